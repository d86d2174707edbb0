"""Multi-worker training: the HCCL rank table, the Ascend NPU session/environment contract, and the choice of
compute backend. Horovod itself is imported by the training code only when ``use_horovod`` is set."""
