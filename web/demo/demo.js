// Shows the embed snippet with this server's own address.
document.addEventListener("DOMContentLoaded", () => {
  const snippet = document.getElementById("snippet");
  if (snippet) snippet.textContent = `<script src="${location.origin}/widget.js" defer></script>`;
});
