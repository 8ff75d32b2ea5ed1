import AutoDiff
import DiffEqCore

// Jacobians of the right-hand side by compressed forward mode (Curtis, Powell & Reid, J. Inst.
// Math. Appl. 13, 1974; Gebremedhin, Manne & Pothen, "What color is your Jacobian?", SIAM Rev.
// 47, 2005): columns that share no row get one color and one dual direction, so a Jacobian
// costs ceil(colors / 8) dual evaluations of `f` instead of ceil(columns / 8). The structure
// comes from the reverse-mode tape the adjoint records anyway (``RHSTape/dependencyPattern``);
// the colouring is DiffEqCore's ``SparsityPattern/columnColoring(columns:)``, shared with the
// stiff solvers' sparse Jacobians.
//
// Each entry equals the dense evaluation's bitwise: dual arithmetic treats its directions
// independently, and every intermediate value feeding output `i` depends only on inputs that
// reach `i`, so in the direction of a color the one column of that color reaching `i` is the
// only one that contributes (the others contribute exact zeros).

/// `∂f/∂u` (and optionally `∂f/∂p`) of a model by compressed forward mode, with buffers
/// allocated once. Built only when it takes fewer dual evaluations than the dense chunks.
@usableFromInline
package final class _CompressedJacobian<Model: ODEModel> {
    @usableFromInline typealias D = Dual<8, Double>
    @usableFromInline let model: Model
    @usableFromInline let n: Int
    @usableFromInline let np: Int
    /// The columns, as indices into `x = [u; p]`: `0..<n` (∂f/∂u), `0..<n+np` (∂f/∂u and ∂f/∂p)
    /// or `n..<n+np` (∂f/∂p, for ``parameterProduct(_:u:p:t:into:)``).
    @usableFromInline let columns: Range<Int>
    @usableFromInline let colors: Int
    /// Per chunk `k` of eight colors: the columns to seed at `seedColumn[seedStart[k] ..<
    /// seedStart[k + 1]]` (direction `seedSlot`), and the Jacobian entries it yields at
    /// `entryRow`/`entryColumn`/`entrySlot[entryStart[k] ..< entryStart[k + 1]]`.
    @usableFromInline let seedStart: [Int]
    @usableFromInline let seedColumn: [Int]
    @usableFromInline let seedSlot: [Int]
    @usableFromInline let entryStart: [Int]
    @usableFromInline let entryRow: [Int]
    @usableFromInline let entryColumn: [Int]
    @usableFromInline let entrySlot: [Int]
    @usableFromInline var ud: [D]
    @usableFromInline var pd: [D]
    @usableFromInline var out: [D]
    /// The dual width of the last chunk: 2 or 4 when its colors fit (its own buffers below, its
    /// seeds set once), else 8. A Brusselator Jacobian has 10 colors on the 3 x 3 grid and 12 on
    /// the 5 x 5 one (8 + 2, 8 + 4), its parameter columns 4: a narrower dual does the last
    /// chunk's arithmetic on the directions it has rather than on eight.
    @usableFromInline let lastWidth: Int
    @usableFromInline var ud2: [Dual<2, Double>] = []
    @usableFromInline var pd2: [Dual<2, Double>] = []
    @usableFromInline var out2: [Dual<2, Double>] = []
    @usableFromInline var ud4: [Dual<4, Double>] = []
    @usableFromInline var pd4: [Dual<4, Double>] = []
    @usableFromInline var out4: [Dual<4, Double>] = []

    /// `nil` when coloring saves no dual evaluation over dense chunks of eight columns, or
    /// (`maxEvaluations`) when it needs more dual evaluations than that.
    @inlinable
    package init?(_ model: Model, pattern: [[Int]], n: Int, p: [Double], columns: Range<Int>, maxEvaluations: Int? = nil) {
        let np = p.count
        guard pattern.count == n, columns.lowerBound >= 0, columns.upperBound <= n + np, !columns.isEmpty else {
            return nil
        }
        let lo = columns.lowerBound, width = columns.count
        // The pattern restricted to `columns`, by rows, in compressed (flat) storage: this runs
        // once per gradient, and arrays of arrays cost an allocation per row.
        var rowStart = [Int](repeating: 0, count: n + 1), rowColumns: [Int] = []
        for (i, row) in pattern.enumerated() {
            for j in row where columns.contains(j) { rowColumns.append(j) }
            rowStart[i + 1] = rowColumns.count
        }
        // DiffEqCore's greedy colouring in column order (the one the stiff solvers use).
        guard let full = try? SparsityPattern(columns: n + np, rowColumns: pattern) else { return nil }
        let coloring = full.columnColoring(columns: columns)
        let color = coloring.colors
        let colors = coloring.count
        let chunks = (colors + 7) / 8
        if let maxEvaluations {
            guard chunks <= maxEvaluations else { return nil }
        } else {
            guard chunks < (width + 7) / 8 else { return nil }
        }
        var seedStart = [0], seedColumn: [Int] = [], seedSlot: [Int] = []
        var entryStart = [0], entryRow: [Int] = [], entryColumn: [Int] = [], entrySlot: [Int] = []
        entryRow.reserveCapacity(rowColumns.count)
        entryColumn.reserveCapacity(rowColumns.count)
        entrySlot.reserveCapacity(rowColumns.count)
        for k in 0..<chunks {
            for j in columns where color[j - lo] / 8 == k {
                seedColumn.append(j)
                seedSlot.append(color[j - lo] % 8)
            }
            seedStart.append(seedColumn.count)
            for i in 0..<n {
                for e in rowStart[i]..<rowStart[i + 1] where color[rowColumns[e] - lo] / 8 == k {
                    let j = rowColumns[e]
                    entryRow.append(i)
                    entryColumn.append(j)
                    entrySlot.append(color[j - lo] % 8)
                }
            }
            entryStart.append(entryRow.count)
        }
        self.model = model
        self.n = n
        self.np = np
        self.columns = columns
        self.colors = colors
        self.seedStart = seedStart
        self.seedColumn = seedColumn
        self.seedSlot = seedSlot
        self.entryStart = entryStart
        self.entryRow = entryRow
        self.entryColumn = entryColumn
        self.entrySlot = entrySlot
        ud = [D](repeating: .zero, count: n)
        pd = p.map { D(constant: $0) }
        out = [D](repeating: .zero, count: n)
        let lastColors = colors - 8 * (chunks - 1)
        lastWidth = lastColors <= 2 ? 2 : lastColors <= 4 ? 4 : 8
        // The last chunk's seeds never change when it has buffers of its own, nor with one
        // chunk of width eight: set them once.
        let last = seedStart[chunks - 1]..<seedStart[chunks]
        switch lastWidth {
        case 2:
            (ud2, pd2, out2) = Self.buffers(n: n, p: p, seeds: last, seedColumn, seedSlot)
        case 4:
            (ud4, pd4, out4) = Self.buffers(n: n, p: p, seeds: last, seedColumn, seedSlot)
        default:
            if chunks == 1 {
                for e in last {
                    let j = seedColumn[e]
                    if j < n { ud[j].partials[seedSlot[e]] = 1 } else { pd[j - n].partials[seedSlot[e]] = 1 }
                }
            }
        }
    }

    /// Buffers of dual width `W` for `n` states and the parameters `p`, with the given seeds set.
    @inlinable
    static func buffers<let W: Int>(
        n: Int, p: [Double], seeds: Range<Int>, _ seedColumn: [Int], _ seedSlot: [Int]
    ) -> ([Dual<W, Double>], [Dual<W, Double>], [Dual<W, Double>]) {
        var ud = [Dual<W, Double>](repeating: .zero, count: n)
        var pd = p.map { Dual<W, Double>(constant: $0) }
        for e in seeds {
            let j = seedColumn[e]
            if j < n { ud[j].partials[seedSlot[e]] = 1 } else { pd[j - n].partials[seedSlot[e]] = 1 }
        }
        return (ud, pd, [Dual<W, Double>](repeating: .zero, count: n))
    }

    /// Dual evaluations per Jacobian.
    @inlinable package var evaluationsPerJacobian: Int { (colors + 7) / 8 }

    /// Writes the Jacobian into the `count` entries at `J`: `∂f_i/∂x_j` at `J[i + j * n]`, or with
    /// `negatedTranspose` its negation at `J[j + i * leading]` (the adjoint systems' layouts:
    /// `−(∂f/∂u)ᵀ`, and with the parameter columns the `[λ; μ]` system's Jacobian).
    @inlinable
    package func evaluate(
        into J: UnsafeMutablePointer<Double>, count: Int, u: UnsafePointer<Double>, p: [Double], t: Double,
        negatedTranspose: Bool, leading: Int
    ) {
        _run(into: J, count: count, u: u, p: p, t: t, lambda: nil, negatedTranspose: negatedTranspose, leading: leading)
    }

    /// `λᵀ ∂f/∂p` into `dp` (built with the columns `n..<n+np`): one dual evaluation per chunk of
    /// eight colors, against a reverse sweep's replay of the whole tape.
    @inlinable
    package func parameterProduct(_ lambda: [Double], u: [Double], p: [Double], t: Double, into dp: inout [Double]) {
        let count = dp.count
        lambda.withUnsafeBufferPointer { l in
            u.withUnsafeBufferPointer { u in
                dp.withUnsafeMutableBufferPointer { d in
                    _run(
                        into: d.baseAddress!, count: count, u: u.baseAddress!, p: p, t: t, lambda: l.baseAddress!,
                        negatedTranspose: false, leading: 0)
                }
            }
        }
    }

    /// The number of structurally nonzero entries: `entryRow[e]`, `entryColumn[e]` for `e` in
    /// `0 ..< entryCount`, the order of ``entryValues(into:u:p:t:)``.
    @inlinable var entryCount: Int { entryRow.count }

    /// The values of the structurally nonzero entries `∂f_i/∂x_j` (`i = entryRow[e]`,
    /// `j = entryColumn[e]`) into `values[e]`: the Jacobian in coordinate form, for products with
    /// many vectors at one point (``_StageJacobian``).
    @inlinable
    func entryValues(into values: UnsafeMutablePointer<Double>, u: UnsafePointer<Double>, p: [Double], t: Double) {
        _run(into: values, count: entryCount, u: u, p: p, t: t, lambda: nil, negatedTranspose: false, leading: 0, entries: true)
    }

    /// The Jacobian entries into `J` (its layout as in ``evaluate(into:count:u:p:t:negatedTranspose:leading:)``),
    /// with `lambda` the products `Σ_i λ_i ∂f_i/∂p_k` into `J[k]`, or with `entries` the values in
    /// entry order (``entryValues(into:u:p:t:)``).
    @inlinable
    func _run(
        into J: UnsafeMutablePointer<Double>, count: Int, u: UnsafePointer<Double>, p: [Double], t: Double,
        lambda: UnsafePointer<Double>?, negatedTranspose: Bool, leading: Int, entries asEntries: Bool = false
    ) {
        J.update(repeating: 0, count: count)
        let chunks = seedStart.count - 1
        let output = _ChunkOutput(J: J, lambda: lambda, negatedTranspose: negatedTranspose, leading: leading, entries: asEntries)
        // The buffers move into locals: uniquely owned, no exclusivity checks on `self`.
        let wide = lastWidth == 8 ? chunks : chunks - 1
        if wide > 0 {
            var ud: [D] = [], pd: [D] = [], out: [D] = []
            swap(&ud, &self.ud)
            swap(&pd, &self.pd)
            swap(&out, &self.out)
            for chunk in 0..<wide {
                _chunk(chunk, &ud, &pd, &out, seeded: chunks == 1, u: u, p: p, t: t, output)
            }
            swap(&ud, &self.ud)
            swap(&pd, &self.pd)
            swap(&out, &self.out)
        }
        // One call on the narrow buffers: passed in place, one access each, as a move would be.
        if lastWidth == 4 {
            _chunk(chunks - 1, &ud4, &pd4, &out4, seeded: true, u: u, p: p, t: t, output)
        } else if lastWidth == 2 {
            _chunk(chunks - 1, &ud2, &pd2, &out2, seeded: true, u: u, p: p, t: t, output)
        }
    }

    /// One chunk of colors on duals of width `W`: the values of `u` and `p` into the buffers, the
    /// chunk's seeds (unless `seeded`: set once and kept), one evaluation of `f`, its entries
    /// into `output`, the seeds cleared again. Between calls every partial of the buffers is zero
    /// or a seed kept there.
    @inlinable @inline(__always)
    func _chunk<let W: Int>(
        _ chunk: Int, _ ud: inout [Dual<W, Double>], _ pd: inout [Dual<W, Double>], _ out: inout [Dual<W, Double>],
        seeded: Bool, u: UnsafePointer<Double>, p: [Double], t: Double, _ output: _ChunkOutput
    ) {
        let n = self.n, np = self.np
        ud.withUnsafeMutableBufferPointer { ud in for i in 0..<n { ud[i].value = u[i] } }
        p.withUnsafeBufferPointer { p in pd.withUnsafeMutableBufferPointer { pd in for k in 0..<np { pd[k].value = p[k] } } }
        let seeds = seeded ? 0..<0 : seedStart[chunk]..<seedStart[chunk + 1]
        for e in seeds {
            let j = seedColumn[e]
            if j < n { ud[j].partials[seedSlot[e]] = 1 } else { pd[j - n].partials[seedSlot[e]] = 1 }
        }
        model.lengthCheckedRHS(&out, ud, pd, Dual<W, Double>(constant: t))
        let J = output.J, leading = output.leading
        out.withUnsafeBufferPointer { out in
            entryRow.withUnsafeBufferPointer { row in
                entryColumn.withUnsafeBufferPointer { column in
                    entrySlot.withUnsafeBufferPointer { slot in
                        let entries = entryStart[chunk]..<entryStart[chunk + 1]
                        if output.entries {
                            for e in entries { J[e] = out[row[e]].partials[slot[e]] }
                        } else if let lambda = output.lambda {
                            // λᵀ ∂f/∂p: the products accumulate per parameter.
                            for e in entries {
                                let k = column[e] &- n
                                J[k] += lambda[row[e]] * out[row[e]].partials[slot[e]]
                            }
                        } else {
                            for e in entries {
                                let i = row[e], j = column[e]
                                let d = out[i].partials[slot[e]]
                                if output.negatedTranspose { J[j &+ i &* leading] = -d } else { J[i &+ j &* n] = d }
                            }
                        }
                    }
                }
            }
        }
        for e in seeds {
            let j = seedColumn[e]
            if j < n { ud[j].partials[seedSlot[e]] = 0 } else { pd[j - n].partials[seedSlot[e]] = 0 }
        }
    }
}

/// Where ``_CompressedJacobian/_chunk(_:_:_:_:seeded:u:p:t:_:)`` writes a chunk's entries (see
/// ``_CompressedJacobian/_run(into:count:u:p:t:lambda:negatedTranspose:leading:entries:)``).
@usableFromInline
struct _ChunkOutput {
    @usableFromInline let J: UnsafeMutablePointer<Double>
    @usableFromInline let lambda: UnsafePointer<Double>?
    @usableFromInline let negatedTranspose: Bool
    @usableFromInline let leading: Int
    @usableFromInline let entries: Bool

    @inlinable
    init(J: UnsafeMutablePointer<Double>, lambda: UnsafePointer<Double>?, negatedTranspose: Bool, leading: Int, entries: Bool) {
        self.J = J
        self.lambda = lambda
        self.negatedTranspose = negatedTranspose
        self.leading = leading
        self.entries = entries
    }
}

/// `∂f/∂x` (`x = [u; p]`, the columns of a ``_CompressedJacobian``) at one point `(t, u(t))` in
/// coordinate form, for the backward solves of the interpolating and quadrature adjoints, whose
/// right-hand side `−(∂f/∂u)ᵀλ` (and `−(∂f/∂p)ᵀλ`) is linear in `λ` with a matrix that depends on
/// `t` alone (through the forward solution `u(t)`).
///
/// Why: a Rosenbrock method evaluates that right-hand side several times at one `t`: Rodas5P's
/// stages 6, 7 and 8 are all at `t + h` (Steinebach 2023, `c₆ = c₇ = c₈ = 1`), and the next step
/// takes its Jacobian at that same point. One compressed Jacobian there (``_CompressedJacobian``:
/// two dual evaluations of `f` on the Brusselator, about the cost of one replay and sweep of the
/// tape) then serves the three stage products as sparse products and the next step's Jacobian
/// as a scatter, where the tape would be replayed three times and the Jacobian evaluated again.
/// The products equal the tape's up to the order of summation.
@usableFromInline
package final class _StageJacobian<Model: ODEModel> {
    @usableFromInline let jacobian: _CompressedJacobian<Model>
    @usableFromInline let n: Int
    /// The entries by column of `x = [u; p]` (compressed sparse columns): column `j`'s are
    /// `columnStart[j] ..< columnStart[j + 1]`, each a row `i` and an index into `values`, in
    /// entry order. A product then sums each column in a register.
    @usableFromInline let columnStart: [Int]
    @usableFromInline let columnRow: [Int]
    @usableFromInline let columnEntry: [Int]
    /// The entry values at the stored point, and the mutable state, behind pointers allocated
    /// once: the backward right-hand side reaches them several times per call, and every access
    /// to a class's `var` is a dynamic exclusivity check (about 3 % of a Brusselator N=3
    /// gradient, profiled), a `let` pointer none.
    @usableFromInline let values: UnsafeMutablePointer<Double>
    @usableFromInline package let state: UnsafeMutablePointer<_StageJacobianState>

    @inlinable
    package init(_ jacobian: _CompressedJacobian<Model>) {
        self.jacobian = jacobian
        let n = jacobian.n
        self.n = n
        let width = n + jacobian.np
        var start = [Int](repeating: 0, count: width + 1)
        for e in 0..<jacobian.entryCount { start[jacobian.entryColumn[e] + 1] += 1 }
        for j in 0..<width { start[j + 1] += start[j] }
        var rows = [Int](repeating: 0, count: jacobian.entryCount)
        var entries = [Int](repeating: 0, count: jacobian.entryCount)
        var fill = start
        for e in 0..<jacobian.entryCount {
            let j = jacobian.entryColumn[e]
            rows[fill[j]] = jacobian.entryRow[e]
            entries[fill[j]] = e
            fill[j] += 1
        }
        (columnStart, columnRow, columnEntry) = (start, rows, entries)
        values = .allocate(capacity: Swift.max(1, jacobian.entryCount))
        values.initialize(repeating: 0, count: Swift.max(1, jacobian.entryCount))
        state = .allocate(capacity: 1)
        state.initialize(to: _StageJacobianState())
    }

    deinit {
        values.deallocate()
        state.deallocate()
    }

    /// Whether `values` holds the Jacobian at `t` (the forward solution `u(t)` is a function of
    /// `t` for as long as the caller does not ``invalidate()``).
    @inlinable @inline(__always)
    package func holds(_ t: Double) -> Bool { state.pointee.time == t }

    /// Forgets the stored Jacobian (the forward solution it was evaluated on changed).
    @inlinable
    package func invalidate() { state.pointee.time = .nan }

    /// The Jacobian at `(u, p, t)`.
    @inlinable
    package func evaluate(u: UnsafePointer<Double>, p: [Double], t: Double) {
        jacobian.entryValues(into: values, u: u, p: p, t: t)
        state.pointee.time = t
        state.pointee.evaluations += 1
    }

    /// `out[j] = −Σ_i λ_i ∂f_i/∂u_j` for `j < n` and, with `includeParameters`,
    /// `out[n + k] = −Σ_i λ_i ∂f_i/∂p_k`: the adjoint right-hand side at the stored point.
    @inlinable
    package func negatedProduct(_ lambda: UnsafePointer<Double>, into out: UnsafeMutablePointer<Double>, includeParameters: Bool) {
        let n = self.n
        let columns = includeParameters ? n + jacobian.np : n
        state.pointee.products += 1
        let v = values
        columnStart.withUnsafeBufferPointer { start in
            columnRow.withUnsafeBufferPointer { row in
                columnEntry.withUnsafeBufferPointer { entry in
                    for j in 0..<columns {
                        var s = 0.0
                        for k in start[j]..<start[j &+ 1] { s += lambda[row[k]] * v[entry[k]] }
                        // 0 − s: the bits of subtracting each term from zero in turn.
                        out[j] = 0 - s
                    }
                }
            }
        }
    }

    /// The adjoint system's Jacobian at the stored point into the `count` entries at `J`:
    /// `−∂f_i/∂x_j` at `J[j + i * leading]` (the layout of
    /// ``_CompressedJacobian/evaluate(into:count:u:p:t:negatedTranspose:leading:)`` with
    /// `negatedTranspose`), zero elsewhere.
    @inlinable
    package func scatterNegatedTranspose(into J: UnsafeMutablePointer<Double>, count: Int, leading: Int) {
        J.update(repeating: 0, count: count)
        let v = values
        jacobian.entryRow.withUnsafeBufferPointer { row in
            jacobian.entryColumn.withUnsafeBufferPointer { column in
                for e in 0..<row.count { J[column[e] &+ row[e] &* leading] = -v[e] }
            }
        }
    }
}

/// The mutable part of a ``_StageJacobian``.
@usableFromInline
package struct _StageJacobianState {
    /// The `t` whose Jacobian the values hold (NaN: none).
    @usableFromInline var time = Double.nan
    /// Set when the backward solver first asks for a Jacobian (see
    /// ``_AdjointWorkspace/adjointRHS(includeMu:)``).
    @usableFromInline var active = false
    /// Jacobians evaluated, products formed.
    @usableFromInline var evaluations = 0
    @usableFromInline package var products = 0

    @inlinable init() {}
}

extension _CompressedJacobian {
    /// The compressed evaluator of `model`'s `∂f/∂u` (with `includeParameters`, of `[∂f/∂u, ∂f/∂p]`),
    /// its structure from `tape` at `(u, p, t)`; `nil` when the model has its own Jacobian, when
    /// the tape cannot give the structure, or when coloring saves nothing.
    @inlinable
    package static func make(
        _ model: Model, tape: RHSTape, u: [Double], p: [Double], t: Double, includeParameters: Bool
    ) -> _CompressedJacobian? {
        let columns = includeParameters ? u.count + p.count : u.count
        guard !model.hasAnalyticJacobian, columns > 8,
            let pattern = try? tape.dependencyPattern(u: u, p: p, t: t)
        else { return nil }
        return _CompressedJacobian(model, pattern: pattern, n: u.count, p: p, columns: 0..<columns)
    }

    /// The evaluator of `λᵀ ∂f/∂p` when the parameter columns take eight colors or fewer: one
    /// dual evaluation of `f` per product. (On the Brusselator, whose parameters each enter one
    /// cell, that is four colors at every grid size; on the 5x5 grid its dual evaluation profiled
    /// at about half a replay and sweep of the tape, and the products with their bookkeeping at
    /// about two thirds.) `nil` otherwise, or when the tape cannot give the structure.
    @inlinable
    package static func makeParameterProduct(
        _ model: Model, tape: RHSTape, u: [Double], p: [Double], t: Double
    ) -> _CompressedJacobian? {
        guard p.count > 0, u.count + p.count > 8 else { return nil }
        return makeParameterProduct(model, pattern: try? tape.dependencyPattern(u: u, p: p, t: t), n: u.count, p: p)
    }

    /// ``makeParameterProduct(_:tape:u:p:t:)`` from a dependency pattern already found.
    @inlinable
    static func makeParameterProduct(_ model: Model, pattern: [[Int]]?, n: Int, p: [Double]) -> _CompressedJacobian? {
        guard p.count > 0, n + p.count > 8, let pattern else { return nil }
        return _CompressedJacobian(model, pattern: pattern, n: n, p: p, columns: n..<(n + p.count), maxEvaluations: 1)
    }
}

/// The right-hand side of the adjoint methods' forward solves: the model, with `∂f/∂u` by
/// compressed forward mode when that is cheaper (the same values as the dense evaluation, so
/// the same forward solution as solving the model's own problem).
@usableFromInline
struct _AdjointForwardRHS<Model: ODEModel>: ODEFunction {
    @usableFromInline typealias Scalar = Double
    @usableFromInline let model: Model
    @usableFromInline let compressed: _CompressedJacobian<Model>?

    @inlinable
    init(_ model: Model, compressed: _CompressedJacobian<Model>?) {
        self.model = model
        self.compressed = compressed
    }

    @inlinable @inline(__always)
    func callAsFunction(_ du: inout [Double], _ u: [Double], _ p: [Double], _ t: Double) {
        model.lengthCheckedRHS(&du, u, p, t)
    }

    @inlinable var hasAnalyticJacobian: Bool { model.hasAnalyticJacobian || compressed != nil }

    @inlinable
    func jacobian(_ J: inout [Double], _ u: [Double], _ p: [Double], _ t: Double) {
        guard let compressed, !model.hasAnalyticJacobian else {
            model.jacobian(&J, u, p, t)
            return
        }
        let count = J.count
        J.withUnsafeMutableBufferPointer { j in
            u.withUnsafeBufferPointer { u in
                compressed.evaluate(
                    into: j.baseAddress!, count: count, u: u.baseAddress!, p: p, t: t, negatedTranspose: false, leading: 0)
            }
        }
    }

    @inlinable var supportsForwardModeAD: Bool { true }

    @inlinable
    func forwardModeJacobian(_ J: inout [Double], _ u: [Double], _ p: [Double], _ t: Double) {
        GenericRHS(model, as: Double.self).forwardModeJacobian(&J, u, p, t)
    }

    @inlinable var isAutonomous: Bool { model.isAutonomous }

    /// The same behind closures, for the algorithm's precompiled solve.
    @inlinable
    static func erased(_ model: Model, compressed: _CompressedJacobian<Model>?) -> ErasedModelRHS<Double> {
        ErasedModelRHS(erasing: _AdjointForwardRHS(model, compressed: compressed))
    }
}
