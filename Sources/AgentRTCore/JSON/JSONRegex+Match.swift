// The backtracking matcher. Every instruction executed and every backtrack costs one step
// of a caller-supplied budget; a search that runs out returns nil, which the schema
// validator reports as a failure (fail closed) instead of spinning on `(a+)+$`.

extension _JSONRegex {
    /// A saved alternative, or a register value to restore when backtracking past a `mark`.
    private enum Frame {
        case branch(pc: Int, pos: Int)
        case restore(register: Int, value: Int)
    }

    /// Whether the pattern matches somewhere in `text`; nil when `budget` ran out first.
    /// `budget` is decreased by the steps spent.
    func search(_ text: String, budget: inout Int) -> Bool? {
        let input = text.unicodeScalars.map(\.value)
        return search(input, budget: &budget)
    }

    func search(_ input: [UInt32], budget: inout Int) -> Bool? {
        let n = input.count
        var stack: [Frame] = []
        var registers = [Int](repeating: -1, count: registerCount)
        let lastStart = anchoredAtStart ? 0 : n
        var start = 0
        while start <= lastStart {
            defer { start += 1 }
            if let first = firstScalar, start >= n || input[start] != first { continue }
            stack.removeAll(keepingCapacity: true)
            var pc = 0
            var pos = start
            while true {
                budget -= 1
                if budget < 0 { return nil }
                var ok = true
                switch program[pc] {
                case .scalar(let c):
                    if pos < n && input[pos] == c { pos += 1; pc += 1 } else { ok = false }
                case .set(let index):
                    if pos < n && sets[index].contains(input[pos]) { pos += 1; pc += 1 } else { ok = false }
                case .split(let first, let second):
                    stack.append(.branch(pc: second, pos: pos))
                    pc = first
                case .jump(let target):
                    pc = target
                case .assert(let assertion):
                    if Self.holds(assertion, input, pos) { pc += 1 } else { ok = false }
                case .mark(let r):
                    stack.append(.restore(register: r, value: registers[r]))
                    registers[r] = pos
                    pc += 1
                case .progress(let r):
                    if pos > registers[r] { pc += 1 } else { ok = false }
                case .match:
                    return true
                }
                if ok { continue }
                // Backtrack to the most recent alternative, undoing register marks on the way.
                var resumed = false
                while let frame = stack.popLast() {
                    budget -= 1
                    switch frame {
                    case .restore(let r, let value):
                        registers[r] = value
                    case .branch(let savedPC, let savedPos):
                        pc = savedPC
                        pos = savedPos
                        resumed = true
                    }
                    if resumed { break }
                }
                if !resumed { break }
                if budget < 0 { return nil }
            }
        }
        return false
    }

    private static func holds(_ assertion: _RegexAssertion, _ input: [UInt32], _ pos: Int) -> Bool {
        switch assertion {
        case .start: return pos == 0
        case .end: return pos == input.count
        case .wordBoundary, .notWordBoundary:
            let before = pos > 0 && _ScalarSet.word.contains(input[pos - 1])
            let after = pos < input.count && _ScalarSet.word.contains(input[pos])
            return (before != after) == (assertion == .wordBoundary)
        }
    }
}
