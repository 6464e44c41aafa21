"""Analyses of a result as data (never text): the three-way check, SymPy translation, explain, the graph model."""
