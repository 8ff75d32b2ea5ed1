// sde-bench: written below.
