"""Network ensembles: parameter laws, architectures and batched evaluation."""

from dualsym.ensemble.ensemble import (
    Architecture,
    Ensemble,
    FunctionArchitecture,
    MLPArchitecture,
    Params,
    TensorSpec,
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
    "stream_key",
]
