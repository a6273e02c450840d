"""Cardinal's indicators, one module each: `evaluate` for what one process shows on its own, `contribute`
and `finalize` for the indicators judged against the whole population (second_lowest.py feeds R024 and R058).
"""
