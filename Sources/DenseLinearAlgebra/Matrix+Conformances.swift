extension Matrix: Equatable where Element: Equatable {
    /// Equal when the shapes and all entries are equal.
    @inlinable
    public static func == (lhs: Matrix, rhs: Matrix) -> Bool {
        lhs.rows == rhs.rows && lhs.columns == rhs.columns && lhs.storage == rhs.storage
    }
}

extension Matrix: Hashable where Element: Hashable {
    @inlinable
    public func hash(into hasher: inout Hasher) {
        hasher.combine(rows)
        hasher.combine(columns)
        hasher.combine(storage)
    }
}

extension Matrix: CustomStringConvertible {
    /// One line per row, entries separated by spaces, e.g. `"[1.0 2.0]\n[3.0 4.0]"`.
    public var description: String {
        guard rows > 0 else { return "[] (\(rows)x\(columns))" }
        return (0..<rows).map { i in
            "[" + (0..<columns).map { j in "\(storage[i + j * rows])" }.joined(separator: " ") + "]"
        }.joined(separator: "\n")
    }
}
