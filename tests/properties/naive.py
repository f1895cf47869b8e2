"""A deliberately naive model of Xen's event channels, to check the optimised core against.

    xen = NaiveXen(version=(4, 22))
    xen.create(0, vcpus=4, width=64, cap=-1, privileged=True)
    port = xen.op("alloc_unbound", 0, DOMID_SELF, 0)   # an int, None, a list, a tuple or "-ENOSPC"

Written from the reference, not from the core: plain dicts and sets, a linear scan from port 0 for every
allocation (reference §3), one object per channel, Linux's guest loops transcribed with sets (§4, §5).
Nothing here is fast; everything is meant to be obviously right.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DOMID_SELF = 0x7FF0
FREE, RESERVED, UNBOUND, INTERDOMAIN, PIRQ, VIRQ, IPI = range(7)
STAT = {FREE: 0, RESERVED: 0, UNBOUND: 1, INTERDOMAIN: 2, PIRQ: 3, VIRQ: 4, IPI: 5}
PER_VCPU_VIRQS = {0, 1, 7, 13}  # TIMER, DEBUG, XENOPROF, XENPMU (§6)
ARGO = 11


class Fail(Exception):
    def __init__(self, errno: str) -> None:
        self.errno = errno


def _int(v: object) -> int:
    if not isinstance(v, int):
        raise Fail("EFAULT")
    return int(v)


@dataclass
class Chan:
    state: int = FREE
    notify: int = 0
    remote_dom: int = 0
    remote_port: int = 0
    virq: int = 0
    pirq: int = 0
    xen: bool = False
    prio: int = 7


@dataclass
class Word:
    pending: bool = False
    masked: bool = False
    linked: bool = False
    link: int = 0


@dataclass
class Vcpu:
    virqs: dict[int, int] = field(default_factory=dict)
    sel: set[int] = field(default_factory=set)  # 2L selector words
    upcall: bool = False
    kicks: int = 0
    rr_word: int = 0
    rr_bit: int = 0
    control: bool = False  # FIFO control block mapped
    ready: set[int] = field(default_factory=set)
    head: dict[int, int] = field(default_factory=dict)
    tail: dict[int, int] = field(default_factory=dict)
    guest_head: dict[int, int] = field(default_factory=dict)


@dataclass
class Dom:
    domid: int
    nvcpus: int
    width: int
    cap: int
    privileged: bool
    nr_pirqs: int
    target: int | None = None
    dying: bool = False
    paused: bool = False
    chans: dict[int, Chan] = field(default_factory=dict)
    vcpus: list[Vcpu] = field(default_factory=list)
    fifo: bool = False
    pending: set[int] = field(default_factory=set)  # 2L
    masked: set[int] = field(default_factory=set)  # 2L
    words: dict[int, Word] = field(default_factory=dict)  # FIFO, ports below pages × 1024
    pages: int = 0
    saved: set[int] = field(default_factory=set)  # FIFO evtchn->pending for ports with no word
    lastq: dict[int, tuple[int, int]] = field(default_factory=dict)
    pirqs: dict[int, int] = field(default_factory=dict)
    xen_notes: dict[int, int] = field(default_factory=dict)
    next_reset: int = 0

    def max_evtchns(self) -> int:
        return 131072 if self.fifo else self.width * self.width

    def busy(self, port: int) -> bool:
        return self.fifo and port in self.words and self.words[port].linked


class NaiveXen:
    def __init__(self, version: tuple[int, int] = (4, 22), bucket: int = 64) -> None:
        self.version = version
        self.bucket = bucket
        self.doms: dict[int, Dom] = {}
        self.handlers: dict[int, int] = {}

    # ---------------------------------------------------------------- domains

    def create(self, domid: int, vcpus: int, width: int, cap: int, privileged: bool, nr_pirqs: int) -> None:
        d = Dom(domid, vcpus, width, 2**31 - 1 if cap < 0 else cap, privileged, nr_pirqs)
        d.vcpus = [Vcpu() for _ in range(vcpus)]
        self.doms[domid] = d
        self.get_free_port(d)
        d.chans[0].state = RESERVED

    def kill(self, domid: int) -> None:
        """The dying half of destruction: close every port from the top down, Xen's too (§3)."""
        d = self.doms[domid]
        d.dying = True
        for port in sorted(d.chans, reverse=True):
            if port and d.chans[port].state not in (FREE, RESERVED):
                self.close_port(d, port, guest=False)
        self.handlers = {v: h for v, h in self.handlers.items() if h != domid}

    def destroy(self, domid: int) -> None:
        if not self.doms[domid].dying:
            self.kill(domid)
        del self.doms[domid]

    def op_set_global_virq_handler(self, domid: object, virq: object) -> None:
        d = self.dom(domid)
        virq = _int(virq)
        if not 0 <= virq < 24 or self.virq_class(virq) != "G":
            raise Fail("EINVAL")
        old = self.handler(virq)
        if self.version >= (4, 21) and old is not None and old is not d and old.vcpus[0].virqs.get(virq):
            raise Fail("EBUSY")
        self.handlers[virq] = d.domid

    # ---------------------------------------------------------------- helpers

    def dom(self, domid: object) -> Dom:
        domid = _int(domid)
        if domid not in self.doms:
            raise Fail("ESRCH")
        return self.doms[domid]

    def target(self, caller: Dom, dom: object) -> Dom:
        dom = _int(dom)
        return caller if dom == DOMID_SELF else self.dom(dom)

    def xsm_target(self, src: Dom, dst: Dom) -> None:
        if not (src is dst or src.target == dst.domid or src.privileged):
            raise Fail("EPERM")

    def valid(self, d: Dom, port: object) -> int:
        port = _int(port)
        if not 0 <= port < len(d.chans):
            raise Fail("EINVAL")
        return port

    def vcpu(self, d: Dom, v: object) -> int:
        v = _int(v)
        if not 0 <= v < d.nvcpus:
            raise Fail("ENOENT")
        return v

    def get_free_port(self, d: Dom) -> int:
        """Xen's scan: from port 0 upward, skipping used and FIFO-busy ports (§3)."""
        if d.dying:
            raise Fail("EINVAL")
        port = 0
        while True:
            if port > d.cap or port >= d.max_evtchns():
                raise Fail("ENOSPC")
            if port >= len(d.chans):
                for p in range(port, port + self.bucket):
                    d.chans[p] = Chan()
                return port
            if d.chans[port].state == FREE and not d.busy(port):
                return port
            port += 1

    def virq_class(self, virq: int) -> str:
        if virq in PER_VCPU_VIRQS:
            return "V"
        if virq == ARGO and self.version >= (4, 21):
            return "D"
        return "G"

    def handler(self, virq: int) -> Dom | None:
        h = self.handlers.get(virq)
        if h is not None and h in self.doms:
            return self.doms[h]
        d0 = self.doms.get(0)
        return d0 if d0 is not None and d0.privileged else None

    def usable(self, d: Dom, port: int) -> bool:
        c = d.chans[port]
        return not c.xen and c.state not in (FREE, RESERVED)

    # ---------------------------------------------------------------- delivery (§4, §5)

    def kick(self, v: Vcpu) -> None:
        if not v.upcall:
            v.upcall = True
            v.kicks += 1

    def set_pending(self, d: Dom, port: int) -> None:
        if not self.usable(d, port) or port >= d.max_evtchns():
            return
        if not d.fifo:
            if port in d.pending:
                return
            d.pending.add(port)
            if port not in d.masked:
                self.raise_2l(d, port)
            return
        if port not in d.words:
            d.saved.add(port)
            return
        vid = d.chans[port].notify
        v = d.vcpus[vid]
        if not v.control:
            return  # dropped before PENDING is set (reference §5)
        w = d.words[port]
        w.pending = True
        if w.masked or w.linked:
            return
        w.linked = True
        ov, op = d.lastq.get(port, (0, 7))
        if d.vcpus[ov].tail.get(op, 0) == port:
            d.vcpus[ov].tail[op] = 0
        prio = d.chans[port].prio
        d.lastq[port] = (vid, prio)
        tail = v.tail.get(prio, 0)
        if tail and d.words[tail].linked:
            d.words[tail].link = port
            linked = True
        else:
            v.head[prio] = port
            linked = False
        v.tail[prio] = port
        if not linked and prio not in v.ready:
            v.ready.add(prio)
            self.kick(v)

    def raise_2l(self, d: Dom, port: int) -> None:
        v = d.vcpus[d.chans[port].notify]
        word = port // d.width
        if word not in v.sel:
            v.sel.add(word)
            self.kick(v)

    def is_pending(self, d: Dom, port: int) -> bool:
        if d.fifo:
            return port in d.words and d.words[port].pending
        return port in d.pending

    def is_masked(self, d: Dom, port: int) -> bool:
        if d.fifo:
            return port not in d.words or d.words[port].masked
        return port in d.masked

    def clear_pending(self, d: Dom, port: int) -> None:
        if d.fifo:
            if port in d.words:
                d.words[port].pending = False
            d.saved.discard(port)
        else:
            d.pending.discard(port)

    def drain(self, d: Dom, vid: int) -> list[int]:
        return self.drain_fifo(d, vid) if d.fifo else self.drain_2l(d, vid)

    def drain_2l(self, d: Dom, vid: int) -> list[int]:
        """Linux's evtchn_2l_handle_events, with sets for words and bits."""
        v = d.vcpus[vid]
        wb = d.width
        out: list[int] = []

        def active(word: int) -> set[int]:
            return {
                p % wb
                for p in d.pending
                if p // wb == word and p not in d.masked and p in d.chans and d.chans[p].notify == vid
            }

        def handle(port: int) -> None:
            d.pending.discard(port)
            out.append(port)

        while v.upcall:
            v.upcall = False
            timer = v.virqs.get(0, 0)
            if timer and timer % wb in active(timer // wb):
                handle(timer)
            words = set(v.sel)
            v.sel = set()
            start_word, start_bit = v.rr_word, v.rr_bit
            word, i = start_word, 0
            while words:
                later = [w for w in words if w >= word]
                if not later:
                    word, i = 0, i + 1
                    continue
                word = min(later)
                bits = active(word)
                bit = start_bit if (word == start_word and i == 0) else 0
                while True:
                    ahead = [b for b in bits if b >= bit]
                    if not ahead:
                        break
                    bit = min(ahead)
                    handle(word * wb + bit)
                    bit = (bit + 1) % wb
                    v.rr_word = word if bit else (word + 1) % wb
                    v.rr_bit = bit
                    if bit == 0:
                        break
                if word != start_word or i != 0:
                    words.discard(word)
                word = (word + 1) % wb
                i += 1
        return out

    def drain_fifo(self, d: Dom, vid: int) -> list[int]:
        """Linux's evtchn_fifo_handle_events: one event from the highest-priority ready queue at a time."""
        v = d.vcpus[vid]
        out: list[int] = []
        while v.upcall:
            v.upcall = False
            ready, v.ready = set(v.ready), set()
            while ready:
                prio = min(ready)
                port = v.guest_head.get(prio, 0) or v.head.get(prio, 0)
                w = d.words[port]
                nxt = w.link
                w.linked, w.link = False, 0
                if nxt == 0:
                    ready.discard(prio)
                if w.pending and not w.masked:
                    w.pending = False
                    out.append(port)
                v.guest_head[prio] = nxt
                ready |= v.ready
                v.ready = set()
        return out

    # ---------------------------------------------------------------- operations

    def op(self, name: str, *args: Any) -> Any:
        try:
            return getattr(self, "op_" + name)(*args)
        except Fail as f:
            return "-" + f.errno

    def op_alloc_unbound(self, caller: int, dom: object, remote: object) -> int:
        c = self.dom(caller)
        d = self.target(c, dom)
        remote = _int(remote)
        if not 0 <= remote <= 0xFFFF:
            raise Fail("ESRCH")
        port = self.get_free_port(d)
        self.xsm_target(c, d)
        d.chans[port] = Chan(UNBOUND, remote_dom=c.domid if remote == DOMID_SELF else remote)
        return port

    def op_alloc_unbound_xen(self, dom: int, vcpu: object, remote: int) -> int:
        d = self.dom(dom)
        vid = self.vcpu(d, vcpu)
        port = self.get_free_port(d)
        d.chans[port] = Chan(UNBOUND, notify=vid, remote_dom=remote, xen=True)
        return port

    def op_bind_interdomain(self, caller: int, rdom: object, rport: object) -> int:
        ld = self.dom(caller)
        rd = self.target(ld, rdom)
        rport = _int(rport)
        lport = self.get_free_port(ld)
        if not 0 <= rport < len(rd.chans):
            raise Fail("EINVAL")
        rc = rd.chans[rport]
        if rc.state != UNBOUND or rc.remote_dom != ld.domid:
            raise Fail("EINVAL")
        ld.chans[lport] = Chan(INTERDOMAIN, remote_dom=rd.domid, remote_port=rport)
        rc.state, rc.remote_dom, rc.remote_port = INTERDOMAIN, ld.domid, lport
        self.set_pending(ld, lport)
        return lport

    def op_bind_virq(self, caller: int, virq: object, vcpu: object) -> int:
        d = self.dom(caller)
        virq, vcpu = _int(virq), _int(vcpu)
        if not 0 <= virq < 24:
            raise Fail("EINVAL")
        cls = self.virq_class(virq)
        if cls != "V" and vcpu != 0:
            raise Fail("EINVAL")
        vid = self.vcpu(d, vcpu)
        if cls == "G" and self.version >= (4, 21) and self.handler(virq) is not d:
            raise Fail("EBUSY")
        if d.vcpus[vid].virqs.get(virq):
            raise Fail("EEXIST")
        port = self.get_free_port(d)
        d.chans[port] = Chan(VIRQ, notify=vid, virq=virq)
        d.vcpus[vid].virqs[virq] = port
        return port

    def op_bind_ipi(self, caller: int, vcpu: object) -> int:
        d = self.dom(caller)
        vid = self.vcpu(d, vcpu)
        port = self.get_free_port(d)
        d.chans[port] = Chan(IPI, notify=vid)
        return port

    def op_bind_pirq(self, caller: int, pirq: object) -> int:
        d = self.dom(caller)
        pirq = _int(pirq)
        if not 0 <= pirq < d.nr_pirqs:
            raise Fail("EINVAL")
        if pirq in d.pirqs:
            raise Fail("EEXIST")
        port = self.get_free_port(d)
        d.chans[port] = Chan(PIRQ, pirq=pirq)
        d.pirqs[pirq] = port
        return port

    def op_close(self, caller: int, port: object) -> None:
        d = self.dom(caller)
        self.close_port(d, self.valid(d, port), guest=True)

    def close_port(self, d: Dom, port: int, guest: bool) -> None:
        c = d.chans[port]
        if guest and c.xen:
            raise Fail("EINVAL")
        if c.state in (FREE, RESERVED):
            raise Fail("EINVAL")
        if c.state == VIRQ:
            for v in d.vcpus:
                if v.virqs.get(c.virq) == port:
                    del v.virqs[c.virq]
        elif c.state == PIRQ:
            del d.pirqs[c.pirq]
        elif c.state == INTERDOMAIN:
            r = self.doms[c.remote_dom].chans[c.remote_port]
            r.state, r.remote_dom, r.remote_port = UNBOUND, d.domid, 0
        self.clear_pending(d, port)
        d.chans[port] = Chan(prio=c.prio)

    def op_send(self, caller: int, port: object) -> None:
        d = self.dom(caller)
        port = self.valid(d, port)
        c = d.chans[port]
        if c.xen:
            raise Fail("EINVAL")
        if c.state == INTERDOMAIN:
            rd = self.doms[c.remote_dom]
            if rd.chans[c.remote_port].xen:
                rd.xen_notes[c.remote_port] = rd.xen_notes.get(c.remote_port, 0) + 1
            else:
                self.set_pending(rd, c.remote_port)
        elif c.state == IPI:
            self.set_pending(d, port)
        elif c.state != UNBOUND:
            raise Fail("EINVAL")

    def op_status(self, caller: int, dom: object, port: object) -> tuple[int, ...]:
        c = self.dom(caller)
        d = self.target(c, dom)
        port = self.valid(d, port)
        ch = d.chans[port]
        if (4, 15) <= self.version < (4, 19) and ch.xen:
            raise Fail("EACCES")
        self.xsm_target(c, d)
        dom_out = ch.remote_dom if ch.state in (UNBOUND, INTERDOMAIN) else 0
        port_out = ch.remote_port if ch.state == INTERDOMAIN else 0
        pirq = ch.pirq if ch.state == PIRQ else 0
        virq = ch.virq if ch.state == VIRQ else 0
        return (STAT[ch.state], ch.notify, dom_out, port_out, pirq, virq)

    def op_bind_vcpu(self, caller: int, port: object, vcpu: object) -> None:
        d = self.dom(caller)
        vid = self.vcpu(d, vcpu)
        port = self.valid(d, port)
        c = d.chans[port]
        if c.xen:
            raise Fail("EINVAL")
        if c.state == VIRQ and self.virq_class(c.virq) == "V":
            raise Fail("EINVAL")
        if c.state not in (UNBOUND, INTERDOMAIN, PIRQ, VIRQ):
            raise Fail("EINVAL")
        c.notify = vid

    def op_unmask(self, caller: int, port: object) -> None:
        d = self.dom(caller)
        port = self.valid(d, port)
        if not self.usable(d, port) or port >= d.max_evtchns():
            return
        if d.fifo:
            if port in d.words:
                w = d.words[port]
                w.masked = False
                if w.pending:
                    self.set_pending(d, port)
        elif port in d.masked:
            d.masked.discard(port)
            if port in d.pending:
                self.raise_2l(d, port)

    def op_mask(self, domid: int, port: object) -> None:
        d = self.dom(domid)
        port = _int(port)
        if 0 <= port < len(d.chans) and port < d.max_evtchns():
            if d.fifo:
                if port in d.words:
                    d.words[port].masked = True
            else:
                d.masked.add(port)

    def op_reset(self, caller: int, dom: object) -> bool:
        c = self.dom(caller)
        d = self.target(c, dom)
        self.xsm_target(c, d)
        if d is not c and not d.paused:
            raise Fail("EINVAL")
        if d.next_reset:
            raise Fail("EBUSY")
        for port in range(1, len(d.chans)):
            ch = d.chans[port]
            if ch.state not in (FREE, RESERVED) and not ch.xen:
                self.close_port(d, port, guest=True)
        if any(ch.state not in (FREE, RESERVED) and not ch.xen for ch in d.chans.values()):
            raise Fail("EAGAIN")
        if d.fifo:
            d.fifo = False
            d.words, d.pages, d.saved, d.lastq = {}, 0, set(), {}
            d.pending, d.masked = set(), set()
            for v in d.vcpus:
                v.control, v.ready, v.head, v.tail, v.guest_head = False, set(), {}, {}, {}
                v.sel, v.upcall = set(), False
        return True

    def op_init_control(self, caller: int, gfn: object, offset: object, vcpu: object) -> int:
        d = self.dom(caller)
        gfn, offset = _int(gfn), _int(offset)
        vid = self.vcpu(d, vcpu)
        if not 0 <= offset <= 4096 - 72 or offset % 8:
            raise Fail("EINVAL")
        if d.fifo and d.vcpus[vid].control:
            raise Fail("EINVAL")
        if not 0 <= gfn < 1 << 20:
            raise Fail("EINVAL")
        if not d.fifo:
            d.saved = {p for p in d.pending if 0 < p < len(d.chans)}
            for p in range(1, len(d.chans)):
                d.chans[p].prio = 7
            d.fifo = True
            d.pending, d.masked = set(), set()
            for v in d.vcpus:
                v.sel = set()
        d.vcpus[vid].control = True
        return 17

    def op_expand_array(self, caller: int, gfn: object) -> None:
        d = self.dom(caller)
        gfn = _int(gfn)
        if not d.fifo:
            raise Fail("EOPNOTSUPP")
        if d.pages >= 128:
            raise Fail("ENOSPC")
        if not 0 <= gfn < 1 << 20:
            raise Fail("EINVAL")
        first = d.pages * 1024
        d.pages += 1
        for p in range(first, first + 1024):
            d.words[p] = Word(masked=True)
        for p in range(first, min(first + 1024, len(d.chans))):
            if p in d.saved:
                d.saved.discard(p)
                self.set_pending(d, p)

    def op_set_priority(self, caller: int, port: object, prio: object) -> None:
        d = self.dom(caller)
        port = self.valid(d, port)
        prio = _int(prio)
        if not d.fifo:
            raise Fail("ENOSYS")
        if not self.usable(d, port):
            raise Fail("EACCES")
        if not 0 <= prio <= 15:
            raise Fail("EINVAL")
        d.chans[port].prio = prio

    def op_drain(self, domid: int, vcpu: object) -> list[int]:
        d = self.dom(domid)
        return self.drain(d, self.vcpu(d, vcpu))

    def op_raise_virq(self, domid: int, virq: int, vcpu: int) -> bool:
        cls = self.virq_class(virq)
        if cls == "G":
            h = self.handler(virq)
            if h is None:
                return False
            d = h
        else:
            d = self.dom(domid)
        vid = vcpu if cls == "V" else 0
        if not 0 <= vid < d.nvcpus:
            return False
        port = d.vcpus[vid].virqs.get(virq, 0)
        if not port:
            return False
        self.set_pending(d, port)
        return True

    # ---------------------------------------------------------------- observation

    def observe(self) -> dict[int, Any]:
        """What a test compares: every port's binding and bits, counters, each vCPU's upcall state."""
        out: dict[int, Any] = {}
        for domid, d in sorted(self.doms.items()):
            chans = {
                p: (c.state, c.notify, c.remote_dom, c.remote_port, c.virq, c.pirq, c.xen)
                for p, c in d.chans.items()
                if c.state != FREE
            }
            pend = sorted(p for p in d.chans if self.is_pending(d, p))
            mask = sorted(p for p in d.chans if p < d.max_evtchns() and self.is_masked(d, p))
            vcpus = [(v.upcall, v.kicks, sorted(v.sel), sorted(v.ready)) for v in d.vcpus]
            active = sum(1 for p, c in d.chans.items() if p and c.state != FREE)
            xen = sum(1 for c in d.chans.values() if c.xen)
            out[domid] = (len(d.chans), active, xen, d.fifo, chans, pend, mask, vcpus, dict(d.xen_notes))
        return out
