"""Network ensembles: parameter laws, architectures and batched evaluation."""

from dualsym.ensemble.ensemble import (
    Architecture,
    Ensemble,
    FunctionArchitecture,
    MLPArchitecture,
    Params,
    TensorSpec,
    resolve_device,
    chunk_generator,
    stream_key,
)
from dualsym.ensemble.laws import ParameterLaw

__all__ = [
    "Architecture",
    "Ensemble",
    "FunctionArchitecture",
    "MLPArchitecture",
    "ParameterLaw",
    "Params",
    "TensorSpec",
    "chunk_generator",
    "resolve_device",
    "stream_key",
]
