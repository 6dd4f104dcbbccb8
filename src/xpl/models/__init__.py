"""Models: tokenizers and tiny Llama models (built here), loading local Hugging Face folders
and the packaged SmolLM2, batched generation and its evaluation through the engine."""

from xpl.models.loading import ModelNotFound, load_model, resolve

__all__ = ["ModelNotFound", "load_model", "resolve"]
