import AgentRTCore
import Synchronization

/// Maps call-handle tokens to live calls. A token is never dereferenced: it holds a slot and an
/// unguessable 32-bit tag (SipHash of a counter with the process's random seed). A lookup answers
/// `live` for the slot's current tag, `stale` for the tag it held last (a handle used after its
/// call), and `invalid` for anything else, so a forged handle can neither reach another user's
/// call nor learn anything about the table.
final class HandleTable: @unchecked Sendable {
    static let shared = HandleTable()

    enum Lookup { case live(any HostServices), stale(RuntimeCounters?), invalid }

    private static let shardBits: UInt64 = 6
    private static let indexBits: UInt64 = 26
    private let shards: [Shard]
    private let nextShard = Atomic<UInt64>(0)

    struct Slot {
        var tag: UInt32 = 0
        var retiredTag: UInt32 = 0
        var call: (any HostServices)?
        var retiredCounters: RuntimeCounters?
    }

    final class Shard: @unchecked Sendable {
        let lock = Lock()
        @exclusivity(unchecked) var slots: [Slot] = []
        @exclusivity(unchecked) var free: [Int] = []
        @exclusivity(unchecked) var issued: UInt64 = 0
    }

    init() { shards = (0..<(1 << Self.shardBits)).map { _ in Shard() } }

    private static func tag(_ shard: UInt64, _ n: UInt64) -> UInt32 {
        var h = Hasher()   // seeded randomly per process
        h.combine(shard)
        h.combine(n)
        let t = UInt32(truncatingIfNeeded: h.finalize())
        return t == 0 ? 1 : t
    }

    /// Issues a token for `call`.
    func register(_ call: any HostServices) -> UInt64 {
        let s = nextShard.wrappingAdd(1, ordering: .relaxed).oldValue & ((1 << Self.shardBits) - 1)
        let shard = shards[Int(s)]
        let (index, tag): (Int, UInt32) = shard.lock.withLock {
            let i: Int
            if let f = shard.free.popLast() {
                i = f
            } else {
                shard.slots.append(Slot())
                i = shard.slots.count - 1
            }
            shard.issued &+= 1
            let t = Self.tag(s, shard.issued)
            shard.slots[i].tag = t
            shard.slots[i].call = call
            return (i, t)
        }
        return UInt64(tag) << 32 | UInt64(index) << Self.shardBits | s
    }

    /// Retires a token: later lookups report `stale` until the slot's next call is retired too
    /// (then `invalid`).
    func retire(_ token: UInt64) {
        guard let (shard, index, tag) = decode(token) else { return }
        shard.lock.withLock {
            guard index < shard.slots.count, shard.slots[index].tag == tag, let call = shard.slots[index].call else { return }
            shard.slots[index].retiredTag = tag
            shard.slots[index].retiredCounters = call.lateCounters
            shard.slots[index].call = nil
            shard.slots[index].tag = 0
            shard.free.append(index)
        }
    }

    func lookup(_ token: UInt64) -> Lookup {
        guard let (shard, index, tag) = decode(token) else { return .invalid }
        return shard.lock.withLock {
            guard index < shard.slots.count else { return .invalid }
            let slot = shard.slots[index]
            if slot.tag == tag, let c = slot.call { return .live(c) }
            if slot.retiredTag == tag { return .stale(slot.retiredCounters) }
            return .invalid
        }
    }

    private func decode(_ token: UInt64) -> (Shard, Int, UInt32)? {
        let tag = UInt32(truncatingIfNeeded: token >> 32)
        guard tag != 0 else { return nil }
        let s = Int(token & ((1 << Self.shardBits) - 1))
        let index = Int((token >> Self.shardBits) & ((1 << Self.indexBits) - 1))
        return (shards[s], index, tag)
    }

    /// Live handles (for tests).
    var liveCount: Int { shards.reduce(0) { n, s in n + s.lock.withLock { s.slots.count - s.free.count } } }
}
