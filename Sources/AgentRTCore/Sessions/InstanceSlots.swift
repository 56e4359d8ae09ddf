/// The session instance slots of one user, guarded by the user's lock.
///
/// Most users have one session: its slot is kept in a field, and only further sessions (or
/// agents) go into a dictionary, so an idle user with one session carries no dictionary storage
/// (about 150 bytes of the heap per idle session).
struct InstanceSlots {
    private var first: InstanceSlot?
    private var more: [InstanceKey: InstanceSlot] = [:]

    subscript(key: InstanceKey) -> InstanceSlot? {
        if let first, first.key == key { return first }
        return more.isEmpty ? nil : more[key]
    }

    /// Adds `slot` under its key (the caller has checked that the key is free).
    mutating func insert(_ slot: InstanceSlot) {
        if first == nil { first = slot } else { more[slot.key] = slot }
    }

    var keys: [InstanceKey] { (first.map { [$0.key] } ?? []) + more.keys }
    var values: [InstanceSlot] { (first.map { [$0] } ?? []) + more.values }

    mutating func removeValue(forKey key: InstanceKey) -> InstanceSlot? {
        if let f = first, f.key == key {
            first = nil
            return f
        }
        return more.removeValue(forKey: key)
    }

    mutating func removeAll() {
        first = nil
        more.removeAll()
    }
}
