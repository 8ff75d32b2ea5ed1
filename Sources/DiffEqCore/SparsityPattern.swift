/// The positions of the structurally nonzero entries of a `rows × columns` matrix, in compressed
/// sparse column form (each column's row indices increasing, no duplicates).
///
/// A Jacobian's pattern lets it be evaluated by column colouring (``columnColoring(columns:)``)
/// and factored by a sparse LU. A pattern is a claim about `f`: an entry of `∂f/∂u` outside it
/// is silently taken as zero by a coloured evaluation (it is added to the entry of the same
/// row in the column of that colour that is in the pattern, or dropped), so a Jacobian that
/// misses a nonzero gives a wrong iteration matrix: Newton-based methods then converge slowly
/// or not at all, Rosenbrock methods lose their order. ``missingEntries(of:)`` finds such
/// entries against a dense Jacobian.
public struct SparsityPattern: Sendable, Equatable, Hashable {
    public let rows: Int
    public let columns: Int
    /// Column `j`'s entries are `rowIndices[columnStart[j] ..< columnStart[j + 1]]`.
    public let columnStart: [Int]
    public let rowIndices: [Int]

    /// The pattern with an entry at each `(row, column)` of `entries` (duplicates merged).
    /// Throws when an index lies outside the matrix or a dimension is negative.
    public init(rows: Int, columns: Int, entries: [(row: Int, column: Int)]) throws(DiffEqError) {
        guard rows >= 0, columns >= 0 else {
            throw .dimensionMismatch(what: "sparsity pattern: a dimension is negative", expected: 0, got: Swift.min(rows, columns))
        }
        var perColumn = [[Int]](repeating: [], count: columns)
        for (i, j) in entries {
            guard i >= 0, i < rows else { throw .dimensionMismatch(what: "sparsity pattern: row index out of range", expected: rows, got: i) }
            guard j >= 0, j < columns else {
                throw .dimensionMismatch(what: "sparsity pattern: column index out of range", expected: columns, got: j)
            }
            perColumn[j].append(i)
        }
        self.init(rows: rows, columns: columns, perColumn: perColumn)
    }

    /// The pattern whose row `i` has entries in the columns `rowColumns[i]` (the form of
    /// AutoDiff's `RHSTape.dependencyPattern`). Throws when a column lies outside `0..<columns`.
    public init(columns: Int, rowColumns: [[Int]]) throws(DiffEqError) {
        guard columns >= 0 else { throw .dimensionMismatch(what: "sparsity pattern: a dimension is negative", expected: 0, got: columns) }
        var perColumn = [[Int]](repeating: [], count: columns)
        for (i, row) in rowColumns.enumerated() {
            for j in row {
                guard j >= 0, j < columns else {
                    throw .dimensionMismatch(what: "sparsity pattern: column index out of range", expected: columns, got: j)
                }
                perColumn[j].append(i)
            }
        }
        self.init(rows: rowColumns.count, columns: columns, perColumn: perColumn)
    }

    @usableFromInline
    init(rows: Int, columns: Int, perColumn: [[Int]]) {
        self.rows = rows
        self.columns = columns
        var start = [0]
        start.reserveCapacity(columns + 1)
        var indices: [Int] = []
        for column in perColumn {
            var previous = -1
            for i in column.sorted() where i != previous {
                indices.append(i)
                previous = i
            }
            start.append(indices.count)
        }
        columnStart = start
        rowIndices = indices
    }

    /// The dense `n × n` pattern.
    public static func dense(_ n: Int) -> SparsityPattern {
        SparsityPattern(rows: n, columns: n, perColumn: [[Int]](repeating: Array(0..<n), count: n))
    }

    /// The number of structural nonzeros.
    public var nonzeroCount: Int { rowIndices.count }

    /// Whether `(row, column)` is in the pattern.
    public func contains(row: Int, column: Int) -> Bool {
        guard column >= 0, column < columns else { return false }
        return rowIndices[columnStart[column]..<columnStart[column + 1]].contains(row)
    }

    /// The same pattern with the diagonal added (an iteration matrix `αI + βJ` has it).
    public func addingDiagonal() -> SparsityPattern {
        var perColumn = (0..<columns).map { j in Array(rowIndices[columnStart[j]..<columnStart[j + 1]]) }
        for j in 0..<Swift.min(rows, columns) { perColumn[j].append(j) }
        return SparsityPattern(rows: rows, columns: columns, perColumn: perColumn)
    }

    /// Entries of the column-major `rows × columns` matrix `dense` that are nonzero (or not
    /// finite) outside the pattern: the nonzeros a coloured Jacobian would lose.
    public func missingEntries(of dense: [Double]) -> [(row: Int, column: Int)] {
        guard dense.count == rows * columns else { return [] }
        var missing: [(row: Int, column: Int)] = []
        for j in 0..<columns {
            var k = columnStart[j]
            for i in 0..<rows {
                if k < columnStart[j + 1], rowIndices[k] == i {
                    k += 1
                    continue
                }
                if dense[i + j * rows] != 0 { missing.append((i, j)) }
            }
        }
        return missing
    }

    /// A column colouring: columns of one colour share no row, so one directional derivative
    /// along the sum of their unit vectors gives every entry of all of them (Curtis, Powell &
    /// Reid, "On the estimation of sparse Jacobian matrices", J. Inst. Math. Appl. 13 (1974)
    /// 117-119; Gebremedhin, Manne & Pothen, "What color is your Jacobian? Graph coloring for
    /// computing derivatives", SIAM Rev. 47 (2005) 629-705, §3). Greedy in column order: each
    /// column takes the smallest colour not used by a column sharing a row with it (a distance-2
    /// colouring of the column intersection graph; at most `1 + ` the largest number of other
    /// columns one column meets). Restricted to `columns` (all by default); `colors[k]` is the
    /// colour of column `columns.lowerBound + k`.
    public func columnColoring(columns range: Range<Int>? = nil) -> ColumnColoring {
        let range = range ?? 0..<columns
        let lo = range.lowerBound, width = range.count
        // Rows by their columns within the range (compressed), for the neighbour search.
        var rowStart = [Int](repeating: 0, count: rows + 1)
        for j in range { for e in columnStart[j]..<columnStart[j + 1] { rowStart[rowIndices[e] + 1] += 1 } }
        for i in 0..<rows { rowStart[i + 1] += rowStart[i] }
        var rowColumns = [Int](repeating: 0, count: rowStart[rows])
        var fill = rowStart
        for j in range {
            for e in columnStart[j]..<columnStart[j + 1] {
                let i = rowIndices[e]
                rowColumns[fill[i]] = j
                fill[i] += 1
            }
        }
        var color = [Int](repeating: -1, count: width)
        var forbiddenBy = [Int](repeating: -1, count: width + 1)
        var count = 0
        for j in range {
            for e in columnStart[j]..<columnStart[j + 1] {
                let i = rowIndices[e]
                for f in rowStart[i]..<rowStart[i + 1] where color[rowColumns[f] - lo] >= 0 {
                    forbiddenBy[color[rowColumns[f] - lo]] = j
                }
            }
            var c = 0
            while forbiddenBy[c] == j { c += 1 }
            color[j - lo] = c
            count = Swift.max(count, c + 1)
        }
        return ColumnColoring(columns: range, colors: color, count: count)
    }
}

/// The colours of a ``SparsityPattern``'s columns (``SparsityPattern/columnColoring(columns:)``).
public struct ColumnColoring: Sendable, Equatable {
    /// The columns coloured.
    public let columns: Range<Int>
    /// `colors[k]`: the colour of column `columns.lowerBound + k`, in `0 ..< count`.
    public let colors: [Int]
    /// The number of colours.
    public let count: Int
}
