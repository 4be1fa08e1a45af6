import os

# Every hub call would otherwise hang ~25 s on this network-less machine.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
