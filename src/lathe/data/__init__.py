"""Data: loading (`load`), schema inference (`infer`), splits (`split`), checks (`quality`)."""
