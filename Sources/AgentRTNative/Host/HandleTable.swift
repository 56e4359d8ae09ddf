import AgentRTCore
import Synchronization

/// Maps call-handle tokens to live calls. A token is never dereferenced: it encodes a shard, a
/// slot and a generation, and every lookup checks the generation, so a handle used after its
/// call, from a leaked thread, or forged yields `stale` or `invalid` instead of undefined
/// behaviour.
final class HandleTable: @unchecked Sendable {
    static let shared = HandleTable()

    enum Lookup { case live(AgentCall), stale, invalid }

    private static let shardBits: UInt64 = 6
    private static let indexBits: UInt64 = 26
    private let shards: [Shard]
    private let nextShard = Atomic<UInt64>(0)

    final class Shard: @unchecked Sendable {
        let lock = Lock()
        var generations: [UInt32] = []
        var calls: [AgentCall?] = []
        var free: [Int] = []
    }

    init() { shards = (0..<(1 << Self.shardBits)).map { _ in Shard() } }

    /// Issues a token for `call`.
    func register(_ call: AgentCall) -> UInt64 {
        let s = nextShard.wrappingAdd(1, ordering: .relaxed).oldValue & ((1 << Self.shardBits) - 1)
        let shard = shards[Int(s)]
        let (index, gen): (Int, UInt32) = shard.lock.withLock {
            let i: Int
            if let f = shard.free.popLast() {
                i = f
            } else {
                shard.generations.append(0)
                shard.calls.append(nil)
                i = shard.calls.count - 1
            }
            shard.generations[i] &+= 1
            if shard.generations[i] == 0 { shard.generations[i] = 1 }
            shard.calls[i] = call
            return (i, shard.generations[i])
        }
        return UInt64(gen) << 32 | UInt64(index) << Self.shardBits | s
    }

    /// Retires a token: later lookups report `stale`.
    func retire(_ token: UInt64) {
        guard let (shard, index, gen) = decode(token) else { return }
        shard.lock.withLock {
            guard index < shard.calls.count, shard.generations[index] == gen, shard.calls[index] != nil else { return }
            shard.calls[index] = nil
            shard.free.append(index)
        }
    }

    func lookup(_ token: UInt64) -> Lookup {
        guard let (shard, index, gen) = decode(token) else { return .invalid }
        return shard.lock.withLock {
            guard index < shard.calls.count else { return .invalid }
            let current = shard.generations[index]
            if gen > current { return .invalid }
            if gen == current, let c = shard.calls[index] { return .live(c) }
            return .stale
        }
    }

    private func decode(_ token: UInt64) -> (Shard, Int, UInt32)? {
        let gen = UInt32(truncatingIfNeeded: token >> 32)
        guard gen != 0 else { return nil }
        let s = Int(token & ((1 << Self.shardBits) - 1))
        let index = Int((token >> Self.shardBits) & ((1 << Self.indexBits) - 1))
        return (shards[s], index, gen)
    }

    /// Live handles (for tests).
    var liveCount: Int { shards.reduce(0) { n, s in n + s.lock.withLock { s.calls.count - s.free.count } } }
}
