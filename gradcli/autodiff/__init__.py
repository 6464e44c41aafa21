"""The reverse-mode engine: the operation record and registry, Tensor and grad mode, the graph, the backward pass, threads."""
