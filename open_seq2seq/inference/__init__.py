"""Transcribing audio with a trained model: the inputs (audio files, folders, manifests), the model kinds
(training logdir or checkpoint, frozen graph, ONNX), the decoder choice and the outputs of ``transcribe.py``."""
