"""MOGA layer: objective models calibrated on the platform's own data, pymoo Pareto fronts of climate setpoints."""
