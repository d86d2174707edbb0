"""Export and online inference: checkpoint -> frozen graph (.pb) -> ONNX, and the frozen graph run over a
manifest (docs/export.md). The command lines generate_pb/ckpt2pb.py, generate_pb/pb2onnx.py and
online_inference/jasper_online_inference.py are shims over the ``cli`` of the modules of the same names here
(console scripts jasper-ckpt2pb, jasper-pb2onnx, jasper-online-inference).

signature: tensor names and dtypes of exported graphs; inference_graph: a config's model on placeholders;
freeze: variables -> constants; frozen_model: a frozen graph in a session; onnx_model: an ONNX model in
onnxruntime; bin_files, preprocess, postprocess, staging: the files, stages and all-or-nothing outputs of online
inference.
"""
