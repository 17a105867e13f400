//! Words customers and FAQ writers use for the same thing ("parcel" and "package", "make an
//! account" and "create an account"), per language. A question's word also matches the others
//! of its group, for less than the word itself. A knowledge base adds its own phrasings with
//! `Also asked:` lines.
//!
//! The groups are generic customer-service vocabulary (orders, delivery, returns, payment,
//! accounts, contact), not any one knowledge base's wording.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::text::terms;
use crate::domain::language::Lang;

/// How much a synonym counts, against 1 for the word itself.
pub const SYNONYM_WEIGHT: f64 = 0.6;

fn groups(lang: Lang) -> &'static [&'static [&'static str]] {
    match lang {
        Lang::En => &[
            &[
                "buy", "purchase", "order", "checkout", "basket", "cart", "shop",
            ],
            &[
                "create", "make", "open", "register", "signup", "join", "new",
            ],
            &["login", "log", "signin", "sign", "access", "locked"],
            &[
                "parcel", "package", "delivery", "shipment", "stuff", "items", "order", "box",
            ],
            &[
                "ship", "deliver", "send", "dispatch", "post", "sent", "shipping", "delivery",
                "arrive", "come",
            ],
            &["return", "back", "refund", "returning"],
            &["refund", "money", "reimburse", "reimbursement", "repay"],
            &["exchange", "swap", "replace", "replacement", "change"],
            &[
                "cost",
                "price",
                "fee",
                "charge",
                "much",
                "pay",
                "expensive",
                "cheap",
                "free",
            ],
            &[
                "pay",
                "payment",
                "card",
                "checkout",
                "paypal",
                "visa",
                "mastercard",
                "amex",
                "klarna",
            ],
            &["cancel", "stop", "cancellation", "undo"],
            &[
                "broken",
                "damaged",
                "faulty",
                "smashed",
                "cracked",
                "defective",
                "snapped",
                "torn",
                "dented",
                "work",
                "fault",
            ],
            &[
                "late", "delayed", "missing", "lost", "arrived", "turned", "stolen", "nothing",
            ],
            &[
                "phone",
                "call",
                "ring",
                "telephone",
                "number",
                "contact",
                "reach",
                "talk",
            ],
            &["email", "mail", "e-mail", "message", "newsletter", "inbox"],
            &["password", "pass", "pin", "forgot", "reset"],
            &["delete", "remove", "close", "erase", "wipe", "deactivate"],
            &[
                "discount",
                "code",
                "voucher",
                "coupon",
                "promo",
                "promotion",
                "offer",
                "off",
                "sale",
            ],
            &["gift", "giftcard", "present"],
            &[
                "size", "fit", "fits", "bigger", "smaller", "large", "medium", "small",
            ],
            &[
                "hours", "open", "opening", "close", "closing", "time", "times",
            ],
            &["store", "shop", "branch", "location", "near", "nearest"],
            &["track", "tracking", "where", "status", "whereabouts"],
            &["invoice", "receipt", "bill", "vat", "billing"],
            &[
                "subscription",
                "plan",
                "membership",
                "tier",
                "upgrade",
                "downgrade",
            ],
            &["long", "when", "days", "quickly", "fast", "soon", "time"],
            &["address", "postcode", "location", "moved"],
            &["account", "profile", "details"],
            &["stock", "available", "availability", "restock", "sold"],
            &["student", "uni", "university", "college"],
            &["wash", "clean", "care", "washing", "iron"],
            &["data", "privacy", "personal", "gdpr", "information"],
            &["tax", "vat", "gst"],
            &["bank", "bank account", "transfer"],
            &["app", "mobile", "phone", "android", "iphone"],
            &["user", "colleague", "team", "member", "accountant", "staff"],
            &["export", "download", "backup", "csv"],
            &["trial", "free", "test", "try"],
            &[
                "international",
                "abroad",
                "overseas",
                "country",
                "countries",
                "customs",
            ],
        ],
        Lang::Es => &[
            &[
                "comprar", "compra", "pedido", "pedir", "encargar", "carrito",
            ],
            &["paquete", "envio", "pedido", "entrega", "cosas"],
            &[
                "enviar", "envio", "entregar", "entrega", "mandar", "llegar", "llega",
            ],
            &["devolver", "devolucion", "reembolso", "dinero"],
            &[
                "precio", "coste", "costo", "cuesta", "cuanto", "tarifa", "gratis", "pagar",
            ],
            &["pagar", "pago", "tarjeta", "paypal"],
            &["cancelar", "anular", "cancelacion"],
            &["roto", "danado", "defectuoso", "estropeado", "funciona"],
            &["telefono", "llamar", "contacto", "contactar", "numero"],
            &["contrasena", "clave", "password", "olvide"],
            &["borrar", "eliminar", "cerrar", "baja"],
            &["descuento", "codigo", "cupon", "promocion", "oferta"],
            &["horario", "abierto", "abren", "cierran", "hora", "horas"],
            &["reserva", "reservar", "booking"],
            &["mascota", "perro", "gato", "animales"],
            &[
                "aparcamiento",
                "aparcar",
                "parking",
                "coche",
                "estacionamiento",
            ],
            &["desayuno", "comida", "restaurante"],
            &["factura", "recibo"],
        ],
        Lang::Fr => &[
            &["acheter", "achat", "commande", "commander", "panier"],
            &["colis", "paquet", "livraison", "envoi", "commande"],
            &[
                "livrer",
                "livraison",
                "envoyer",
                "expedier",
                "expedition",
                "arriver",
            ],
            &[
                "retour",
                "retourner",
                "rembourser",
                "remboursement",
                "renvoyer",
            ],
            &[
                "prix", "cout", "coute", "combien", "tarif", "frais", "gratuit", "payer",
            ],
            &["payer", "paiement", "carte", "paypal"],
            &["annuler", "annulation"],
            &[
                "casse",
                "abime",
                "endommage",
                "defectueux",
                "marche",
                "fonctionne",
            ],
            &["telephone", "appeler", "contact", "contacter", "numero"],
            &["mot", "passe", "oublie", "reinitialiser"],
            &["supprimer", "effacer", "fermer"],
            &["reduction", "code", "promo", "bon", "remise"],
            &[
                "horaires",
                "ouvert",
                "ouverture",
                "ferme",
                "heure",
                "heures",
            ],
            &["reservation", "reserver"],
            &["animal", "animaux", "chien", "chat"],
            &["parking", "garer", "stationnement", "voiture"],
            &["petit", "dejeuner", "restaurant", "repas"],
            &["facture", "recu"],
        ],
        Lang::De => &[
            &["kaufen", "bestellen", "bestellung", "warenkorb"],
            &["paket", "sendung", "lieferung", "bestellung"],
            &[
                "liefern",
                "lieferung",
                "versenden",
                "versand",
                "schicken",
                "ankommen",
            ],
            &[
                "rucksendung",
                "zurucksenden",
                "zuruckgeben",
                "erstattung",
                "ruckerstattung",
                "geld",
            ],
            &[
                "preis",
                "kosten",
                "kostet",
                "gebuhr",
                "kostenlos",
                "gratis",
                "zahlen",
                "viel",
            ],
            &["zahlen", "zahlung", "bezahlen", "karte", "paypal"],
            &["stornieren", "storno", "abbrechen", "kundigen"],
            &["kaputt", "beschadigt", "defekt", "funktioniert"],
            &["telefon", "anrufen", "kontakt", "kontaktieren", "nummer"],
            &["passwort", "kennwort", "vergessen", "zurucksetzen"],
            &["loschen", "entfernen", "schliessen"],
            &["rabatt", "gutschein", "code", "aktion"],
            &["offnungszeiten", "geoffnet", "offen", "uhrzeit", "zeit"],
            &["buchung", "buchen", "reservierung", "reservieren"],
            &["haustier", "hund", "katze", "tiere"],
            &["parken", "parkplatz", "auto", "garage"],
            &["fruhstuck", "essen", "restaurant"],
            &["rechnung", "beleg", "quittung"],
        ],
        Lang::Pt => &[
            &[
                "comprar",
                "compra",
                "pedido",
                "encomenda",
                "encomendar",
                "carrinho",
            ],
            &["pacote", "encomenda", "entrega", "envio", "pedido"],
            &[
                "enviar", "envio", "entregar", "entrega", "mandar", "chegar", "chega",
            ],
            &["devolver", "devolucao", "reembolso", "dinheiro"],
            &[
                "preco", "custo", "custa", "quanto", "taxa", "gratis", "gratuito", "pagar",
            ],
            &["pagar", "pagamento", "cartao", "paypal"],
            &["cancelar", "cancelamento"],
            &["partido", "estragado", "danificado", "defeito", "funciona"],
            &[
                "telefone",
                "ligar",
                "contacto",
                "contato",
                "contactar",
                "numero",
            ],
            &["senha", "palavra-passe", "esqueci"],
            &["apagar", "eliminar", "excluir", "fechar"],
            &["desconto", "codigo", "cupao", "cupom", "promocao"],
            &["horario", "aberto", "abre", "fecha", "hora", "horas"],
            &["reserva", "reservar"],
            &["animal", "animais", "cao", "cachorro", "gato"],
            &["estacionamento", "estacionar", "carro", "parque"],
            &["pequeno-almoco", "cafe", "restaurante", "refeicao"],
            &["fatura", "recibo", "nota"],
        ],
    }
}

/// Stem → the stems of the other words in its groups, per language.
static RELATED: LazyLock<HashMap<(Lang, String), Vec<String>>> = LazyLock::new(|| {
    let mut related: HashMap<(Lang, String), Vec<String>> = HashMap::new();
    for lang in Lang::ALL {
        for group in groups(lang) {
            let stems: Vec<String> = group
                .iter()
                .filter_map(|word| terms(word, lang).into_iter().next())
                .collect();
            for stem in &stems {
                let entry = related.entry((lang, stem.clone())).or_default();
                for other in &stems {
                    if other != stem && !entry.contains(other) {
                        entry.push(other.clone());
                    }
                }
            }
        }
    }
    related
});

/// The stems related to `stem` in `lang`.
pub fn related(stem: &str, lang: Lang) -> &'static [String] {
    RELATED
        .get(&(lang, stem.to_owned()))
        .map_or(&[], Vec::as_slice)
}
