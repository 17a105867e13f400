//! The forward pass of a BERT encoder (as in sentence-transformers' MiniLM models) on one
//! sequence, in f32, with matrix products by `matrixmultiply`: embeddings, then per layer
//! self-attention and a GELU feed-forward block, each followed by a residual LayerNorm.

use std::collections::HashMap;

use serde::Deserialize;

/// The parts of `config.json` the forward pass needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f32,
}

fn default_eps() -> f32 {
    1e-12
}

/// A dense layer: `weight` is `[out, in]` row-major, as stored.
struct Linear {
    weight: Vec<f32>,
    bias: Vec<f32>,
    inputs: usize,
    outputs: usize,
}

struct Norm {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: Norm,
    intermediate: Linear,
    output: Linear,
    output_norm: Norm,
}

pub struct Bert {
    config: Config,
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
}

/// A tensor's shape and values.
type Tensor = (Vec<usize>, Vec<f32>);

/// The tensors of a safetensors file, as f32, by name (a `bert.` prefix dropped).
fn tensors(bytes: &[u8]) -> Result<HashMap<String, Tensor>, String> {
    let file = safetensors::SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    let mut out = HashMap::new();
    for (name, view) in file.tensors() {
        if view.dtype() != safetensors::Dtype::F32 {
            // Buffers such as `embeddings.position_ids` (i64) are not weights.
            if name.ends_with("weight") || name.ends_with("bias") {
                return Err(format!(
                    "{name} is {:?}; only f32 weights are supported",
                    view.dtype()
                ));
            }
            continue;
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let name = name.strip_prefix("bert.").unwrap_or(&name).to_owned();
        out.insert(name, (view.shape().to_vec(), values));
    }
    Ok(out)
}

impl Bert {
    /// Loads the weights of `model.safetensors` for `config`.
    pub fn load(config: Config, weights: &[u8]) -> Result<Self, String> {
        let mut all = tensors(weights)?;
        let mut take = |name: &str, shape: &[usize]| -> Result<Vec<f32>, String> {
            let (found, values) = all
                .remove(name)
                .ok_or_else(|| format!("the model has no tensor {name}"))?;
            if found != shape {
                return Err(format!("{name} has shape {found:?}, expected {shape:?}"));
            }
            Ok(values)
        };
        let h = config.hidden_size;
        let mut linear = |prefix: &str, inputs: usize, outputs: usize| -> Result<Linear, String> {
            Ok(Linear {
                weight: take(&format!("{prefix}.weight"), &[outputs, inputs])?,
                bias: take(&format!("{prefix}.bias"), &[outputs])?,
                inputs,
                outputs,
            })
        };
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for n in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{n}");
            layers.push((
                linear(&format!("{p}.attention.self.query"), h, h)?,
                linear(&format!("{p}.attention.self.key"), h, h)?,
                linear(&format!("{p}.attention.self.value"), h, h)?,
                linear(&format!("{p}.attention.output.dense"), h, h)?,
                linear(
                    &format!("{p}.intermediate.dense"),
                    h,
                    config.intermediate_size,
                )?,
                linear(&format!("{p}.output.dense"), config.intermediate_size, h)?,
            ));
        }
        let mut norm = |prefix: &str| -> Result<Norm, String> {
            Ok(Norm {
                weight: take(&format!("{prefix}.weight"), &[h])?,
                bias: take(&format!("{prefix}.bias"), &[h])?,
            })
        };
        let embedding_norm = norm("embeddings.LayerNorm")?;
        let mut built = Vec::with_capacity(layers.len());
        for (n, (query, key, value, attention_out, intermediate, output)) in
            layers.into_iter().enumerate()
        {
            let p = format!("encoder.layer.{n}");
            built.push(Layer {
                query,
                key,
                value,
                attention_out,
                attention_norm: norm(&format!("{p}.attention.output.LayerNorm"))?,
                intermediate,
                output,
                output_norm: norm(&format!("{p}.output.LayerNorm"))?,
            });
        }
        let (_, word) = all
            .remove("embeddings.word_embeddings.weight")
            .ok_or("the model has no word embeddings")?;
        let (_, position) = all
            .remove("embeddings.position_embeddings.weight")
            .ok_or("the model has no position embeddings")?;
        let (_, token_type) = all
            .remove("embeddings.token_type_embeddings.weight")
            .ok_or("the model has no token type embeddings")?;
        Ok(Self {
            config,
            word,
            position,
            token_type,
            embedding_norm,
            layers: built,
        })
    }

    pub fn max_tokens(&self) -> usize {
        self.config.max_position_embeddings
    }

    /// The mean of the last layer's token vectors for `ids`, L2-normalised.
    pub fn embed(&self, ids: &[u32]) -> Vec<f32> {
        let h = self.config.hidden_size;
        let n = ids.len();
        let vocabulary = self.word.len() / h;
        let mut x = vec![0.0_f32; n * h];
        for (t, &id) in ids.iter().enumerate() {
            let id = (id as usize).min(vocabulary - 1);
            let row = &mut x[t * h..(t + 1) * h];
            for (d, value) in row.iter_mut().enumerate() {
                *value = self.word[id * h + d] + self.position[t * h + d] + self.token_type[d];
            }
        }
        layer_norm(&mut x, h, &self.embedding_norm, self.config.layer_norm_eps);
        for layer in &self.layers {
            self.layer(layer, &mut x, n);
        }
        let mut pooled = vec![0.0_f32; h];
        for row in x.chunks_exact(h) {
            for (p, v) in pooled.iter_mut().zip(row) {
                *p += v / n as f32;
            }
        }
        let norm = pooled.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        pooled.iter_mut().for_each(|v| *v /= norm);
        pooled
    }

    fn layer(&self, layer: &Layer, x: &mut [f32], n: usize) {
        let h = self.config.hidden_size;
        let heads = self.config.num_attention_heads;
        let d = h / heads;
        let q = linear(&layer.query, x, n);
        let k = linear(&layer.key, x, n);
        let v = linear(&layer.value, x, n);
        let mut context = vec![0.0_f32; n * h];
        let mut scores = vec![0.0_f32; n * n];
        let scale = 1.0 / (d as f32).sqrt();
        for head in 0..heads {
            let offset = head * d;
            // scores = Q_h · K_hᵀ / √d
            unsafe {
                matrixmultiply::sgemm(
                    n,
                    d,
                    n,
                    scale,
                    q.as_ptr().add(offset),
                    h as isize,
                    1,
                    k.as_ptr().add(offset),
                    1,
                    h as isize,
                    0.0,
                    scores.as_mut_ptr(),
                    n as isize,
                    1,
                );
            }
            for row in scores.chunks_exact_mut(n) {
                softmax(row);
            }
            // context_h = softmax(scores) · V_h
            unsafe {
                matrixmultiply::sgemm(
                    n,
                    n,
                    d,
                    1.0,
                    scores.as_ptr(),
                    n as isize,
                    1,
                    v.as_ptr().add(offset),
                    h as isize,
                    1,
                    0.0,
                    context.as_mut_ptr().add(offset),
                    h as isize,
                    1,
                );
            }
        }
        let attended = linear(&layer.attention_out, &context, n);
        for (xi, ai) in x.iter_mut().zip(&attended) {
            *xi += ai;
        }
        layer_norm(x, h, &layer.attention_norm, self.config.layer_norm_eps);
        let mut inner = linear(&layer.intermediate, x, n);
        inner.iter_mut().for_each(|v| *v = gelu(*v));
        let out = linear(&layer.output, &inner, n);
        for (xi, oi) in x.iter_mut().zip(&out) {
            *xi += oi;
        }
        layer_norm(x, h, &layer.output_norm, self.config.layer_norm_eps);
    }
}

/// `x · Wᵀ + b` for `n` rows.
fn linear(layer: &Linear, x: &[f32], n: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(n * layer.outputs);
    for _ in 0..n {
        out.extend_from_slice(&layer.bias);
    }
    // The weight is [out, in]: read as its transpose [in, out] through the strides.
    unsafe {
        matrixmultiply::sgemm(
            n,
            layer.inputs,
            layer.outputs,
            1.0,
            x.as_ptr(),
            layer.inputs as isize,
            1,
            layer.weight.as_ptr(),
            1,
            layer.inputs as isize,
            1.0,
            out.as_mut_ptr(),
            layer.outputs as isize,
            1,
        );
    }
    out
}

fn layer_norm(x: &mut [f32], h: usize, norm: &Norm, eps: f32) {
    for row in x.chunks_exact_mut(h) {
        let mean = row.iter().sum::<f32>() / h as f32;
        let variance = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / h as f32;
        let inv = 1.0 / (variance + eps).sqrt();
        for (d, v) in row.iter_mut().enumerate() {
            *v = (*v - mean) * inv * norm.weight[d] + norm.bias[d];
        }
    }
}

fn softmax(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::MIN, f32::max);
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    row.iter_mut().for_each(|v| *v /= sum);
}

/// BERT's GELU, with the exact error function.
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + libm::erff(x / std::f32::consts::SQRT_2))
}
