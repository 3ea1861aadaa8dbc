//! Reserved capacity per arc and time slot: what the planners' rounds
//! have taken, and the earliest instant an arc may still be entered.

use crate::net::{FlowNet, NONE};

/// An arc's reservations, for arcs that have some (and arcs of no
/// capacity, with a gate or a fractional rate).
#[derive(Debug, Clone, Copy)]
struct ArcSlots {
    /// The arc's capacity in every slot when it has no gate and its hourly
    /// rate divides evenly into slots ([`VARYING`] otherwise: gates and
    /// [`FlowNet::slot_cap`] are looked up in the network).
    per_slot: u32,
    /// Every slot before this one has no room left (a hint that spares
    /// the search rescanning the full slots of busy arcs).
    full_before: u32,
    /// The arc's reserved slots are `used[off..off + len]` (later slots
    /// hold none yet).
    off: u32,
    len: u32,
}

/// Reserved capacity per arc and slot. Most arcs of a large network never
/// carry any: one small index per arc tells them apart ([`FREE`]: no gate,
/// room in every slot), and only the others have [`ArcSlots`], their
/// reserved slots in one array (moved to its end when they outgrow their
/// place). The searches thus touch little memory per arc.
pub(super) struct Reservations {
    pub(super) slot_ms: u64,
    /// Per arc, [`FREE`] or its index in `slots`.
    slot_of: Vec<u32>,
    slots: Vec<ArcSlots>,
    used: Vec<u32>,
}

const VARYING: u32 = u32::MAX;
const FREE: u32 = u32::MAX;

impl Reservations {
    pub(super) fn new(net: &FlowNet, slot_ms: u64) -> Self {
        let mut res = Reservations { slot_ms, slot_of: vec![FREE; net.arc_count()], slots: Vec::new(), used: Vec::new() };
        for a in 0..net.arc_count() {
            let c = u64::from(net.cap_vph[a]) * slot_ms;
            let per_slot = if net.gate[a] == NONE && c.is_multiple_of(3_600_000) && c / 3_600_000 < u64::from(VARYING) { (c / 3_600_000) as u32 } else { VARYING };
            if per_slot == 0 || per_slot == VARYING {
                res.slot_of[a] = res.slots.len() as u32;
                res.slots.push(ArcSlots { per_slot, full_before: 0, off: 0, len: 0 });
            }
        }
        res
    }
    /// Arc `a`'s [`ArcSlots`], made if it has none.
    fn slots_mut(&mut self, net: &FlowNet, a: usize) -> &mut ArcSlots {
        if self.slot_of[a] == FREE {
            let c = u64::from(net.cap_vph[a]) * self.slot_ms;
            debug_assert!(net.gate[a] == NONE && c.is_multiple_of(3_600_000) && c > 0);
            self.slot_of[a] = self.slots.len() as u32;
            self.slots.push(ArcSlots { per_slot: (c / 3_600_000) as u32, full_before: 0, off: 0, len: 0 });
        }
        &mut self.slots[self.slot_of[a] as usize]
    }
    fn cap(&self, net: &FlowNet, a: usize, k: u64) -> u32 {
        match self.slot_of[a] {
            FREE => (u64::from(net.cap_vph[a]) * self.slot_ms / 3_600_000) as u32,
            i => match self.slots[i as usize].per_slot {
                VARYING => net.slot_cap(a, k, self.slot_ms),
                c => c,
            },
        }
    }
    fn used(&self, a: usize, k: u64) -> u32 {
        match self.slot_of[a] {
            FREE => 0,
            i => {
                let r = &self.slots[i as usize];
                if k < u64::from(r.len) {
                    self.used[r.off as usize + k as usize]
                } else {
                    0
                }
            }
        }
    }
    pub(super) fn residual(&self, net: &FlowNet, a: usize, k: u64) -> u32 {
        self.cap(net, a, k).saturating_sub(self.used(a, k))
    }
    /// Reserves `n` vehicles on arc `a` in slot `k`; true when that fills the slot.
    pub(super) fn reserve(&mut self, net: &FlowNet, a: usize, k: u64, n: u32) -> bool {
        let r = *self.slots_mut(net, a);
        let i = self.slot_of[a] as usize;
        if u64::from(r.len) <= k {
            // Room for the slot and as many again, at the end.
            let len = (k as usize + 1).max(2 * r.len as usize).max(16);
            let off = self.used.len();
            assert!(off + len <= u32::MAX as usize, "reservations beyond 2³² slots");
            self.used.extend_from_within(r.off as usize..(r.off + r.len) as usize);
            self.used.resize(off + len, 0);
            self.slots[i].off = off as u32;
            self.slots[i].len = len as u32;
        }
        let j = self.slots[i].off as usize + k as usize;
        self.used[j] += n;
        let full = self.residual(net, a, k) == 0;
        if full && u64::from(self.slots[i].full_before) == k {
            let mut h = k + 1;
            // A fractional rate's slots may hold none: bounded by 3600 s / slot.
            while self.residual(net, a, h) == 0 && h < k + 3_600_000 / self.slot_ms + 2 {
                h += 1;
            }
            self.slots[i].full_before = h.min(u64::from(u32::MAX)) as u32;
        }
        full
    }

    /// The earliest instant at or after `t` when arc `a` may be entered
    /// (gate open, room in the slot), before `horizon`.
    #[inline]
    pub(super) fn earliest_entry(&self, net: &FlowNet, a: usize, t: u64, horizon: u64) -> Option<u64> {
        let i = self.slot_of[a];
        if i == FREE {
            return (t < horizon).then_some(t);
        }
        let r = &self.slots[i as usize];
        if r.per_slot != VARYING {
            // No gate, the same capacity in every slot.
            if r.per_slot == 0 {
                return None;
            }
            let mut k = (t / self.slot_ms).max(u64::from(r.full_before));
            let slots = &self.used[r.off as usize..(r.off + r.len) as usize];
            while let Some(&u) = slots.get(k as usize) {
                if u < r.per_slot {
                    break;
                }
                k += 1;
            }
            let e = t.max(k * self.slot_ms);
            return (e < horizon).then_some(e);
        }
        self.earliest_entry_varying(net, a, t, horizon)
    }

    /// [`Self::earliest_entry`] for an arc with a gate or a fractional rate.
    fn earliest_entry_varying(&self, net: &FlowNet, a: usize, mut t: u64, horizon: u64) -> Option<u64> {
        if net.cap_vph[a] == 0 {
            return None;
        }
        loop {
            t = net.next_open(a, t)?;
            if t >= horizon {
                return None;
            }
            let mut k = t / self.slot_ms;
            let hint = u64::from(self.slots[self.slot_of[a] as usize].full_before);
            if k < hint {
                k = hint;
                t = k * self.slot_ms;
                if net.next_open(a, t) != Some(t) {
                    continue;
                }
                if t >= horizon {
                    return None;
                }
            }
            if self.residual(net, a, k) > 0 {
                return Some(t);
            }
            // Skip full slots; a slot of a fractional rate may hold none.
            let mut k = k + 1;
            while self.residual(net, a, k) == 0 {
                k += 1;
                if k * self.slot_ms >= horizon {
                    return None;
                }
            }
            t = k * self.slot_ms;
        }
    }
}
