"""nn: modules, layers and fused functional ops built on tensor/."""
