"""Test double of Huawei's npu_bridge: only the module layout and the constructors the toolkit calls, each
recording its arguments. It never runs anything on a device."""
