"""Op kernels of the ONNX runtime, registered with kernels/onnx/_registry.py on import:
fused.py (FusedConv, made by the compile passes) and nhwc.py (the layout pass's forms)."""
