"""Per-send cost of Django's Signal and blinker in CPython (N receivers, trivial bodies).

Run through bench-compare/django_probe.sh (which installs django and blinker). The figures
include ~90 ns of timeit/lambda overhead per send: compare with the "python direct loop" row.
Copied from perf.md's perf-probe-django.py.
"""
import asyncio, statistics, sys, timeit
import django
from django.dispatch import Signal as DjSignal
import blinker

def make_recv(k):
    def r(sender, **kw):
        return k
    return r

def make_arecv(k):
    async def r(sender, **kw):
        return k
    return r

class Sender: pass

def bench(stmt, number):
    t = timeit.Timer(stmt)
    runs = t.repeat(repeat=9, number=number)
    per = [r / number * 1e9 for r in runs]
    return statistics.median(per), min(per), max(per)

rows = []
for n in (0, 1, 10, 100):
    fs = [make_recv(k) for k in range(n)]
    number = max(2000, 200000 // max(n, 1))
    # direct Python calls: the interpreter's own floor
    rows.append(("python direct loop f(sender, a=1)", n, bench(lambda: [f(Sender, a=1) for f in fs], number)))
    dj = DjSignal()
    for f in fs: dj.connect(f, weak=False)
    rows.append(("django Signal.send", n, bench(lambda: dj.send(sender=Sender, a=1), number)))
    rows.append(("django Signal.send_robust", n, bench(lambda: dj.send_robust(sender=Sender, a=1), number)))
    djc = DjSignal(use_caching=True)
    for f in fs: djc.connect(f, weak=False)
    rows.append(("django Signal(use_caching=True).send", n, bench(lambda: djc.send(sender=Sender, a=1), number)))
    djw = DjSignal()
    for f in fs: djw.connect(f)  # weak=True (default): fs keeps them alive
    rows.append(("django Signal.send, weak refs (default)", n, bench(lambda: djw.send(sender=Sender, a=1), number)))
    bl = blinker.Signal()
    for f in fs: bl.connect(f, weak=False)
    rows.append(("blinker Signal.send", n, bench(lambda: bl.send(Sender, a=1), number)))
    blw = blinker.Signal()
    for f in fs: blw.connect(f)
    rows.append(("blinker Signal.send, weak refs (default)", n, bench(lambda: blw.send(Sender, a=1), number)))
    if n == 10:
        rows.append(("django has_listeners", n, bench(lambda: dj.has_listeners(Sender), 200000)))
        rows.append(("blinker bool(receivers)", n, bench(lambda: bool(bl.receivers), 200000)))
        # async: N async receivers, one event loop, awaited sends
        dja = DjSignal()
        afs = [make_arecv(k) for k in range(n)]
        for f in afs: dja.connect(f, weak=False)
        async def many(m):
            for _ in range(m):
                await dja.asend(sender=Sender, a=1)
        m = 2000
        per = []
        for _ in range(5):
            t0 = timeit.default_timer(); asyncio.run(many(m)); per.append((timeit.default_timer() - t0) / m * 1e9)
        rows.append(("django Signal.asend, async receivers", n, (statistics.median(per), min(per), max(per))))

from importlib.metadata import version
print(f"python {sys.version.split()[0]}, django {django.__version__}, blinker {version('blinker')}")
print("| case | N | median ns/send | ns/recv | min-max |")
print("|---|---:|---:|---:|---|")
for name, n, (med, lo, hi) in rows:
    print(f"| {name} | {n} | {med:,.0f} | {med/max(n,1):,.0f} | {lo:,.0f}-{hi:,.0f} |")
