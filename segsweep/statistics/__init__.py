"""Pure statistics of a comparison: arrays in, estimates out; no file is read here.

bootstrap (the crossed seeds x images bootstrap and variance components), stats (intervals, IQM,
probability of improvement), decision (the verdict rule and its sentence). Reporting calls these;
they import nothing else of segsweep.
"""
