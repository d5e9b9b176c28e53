"""How passwords are stored: Argon2id, at a cost a two-core office server can pay at 9 in the morning.

Django's default, PBKDF2-HMAC-SHA256 at 1,000,000 iterations, costs about 0.3 s of one core per
sign-in on the servers these offices run: sixty people signing in within a quarter of a minute keep
both cores busy, and every page waits behind them. Argon2id is memory-hard: a guessing attacker
pays in memory per guess, which is what GPUs lack, instead of in iterations they run by the
thousand. OWASP's password storage cheat sheet gives as equal minimums Argon2id with 19 MiB, 2
passes and 1 lane, and PBKDF2-HMAC-SHA256 at 600,000 iterations; Django's 1,000,000 is 1.67 times
that, and so is this: 3 passes over 21 MiB (64,512 KiB-passes against 38,912), 1 lane, about 40 ms
of one core. One lane because a sign-in should not take both cores from everybody else.

Stored PBKDF2 (and older Argon2) hashes still verify and are rewritten with these parameters at
the user's next sign-in (Django's hasher upgrade: must_update).
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idHasher(Argon2PasswordHasher):
    # The algorithm's name stays "argon2": the stored hashes are Django's own Argon2 format, and
    # each carries its parameters, so a change of these rewrites them at the next sign-in.
    time_cost = 3
    memory_cost = 21504  # KiB
    parallelism = 1
