"""Runs beyond one process or machine: plan job specs, launch them on an executor, merge the shards.

``plan.py`` writes content-hashed job specs (one training job per method/task/tier/seed, one job
per system); ``launcher.py`` runs a plan's unfinished jobs, training first, on an executor from
``executors.py`` (a local process pool), ``slurm.py`` (submitit) or ``ray_executor.py`` (Ray);
``jobs.py`` is what runs on the worker; ``merge.py`` combines the shard records of a run into one.
The engines are submitit and Ray; bgbench adds only the specs, the skip rule and the merge.
"""
