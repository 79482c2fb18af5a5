"""MOGA layer assets: calibrated objective models (with their validation check) and Pareto fronts."""
