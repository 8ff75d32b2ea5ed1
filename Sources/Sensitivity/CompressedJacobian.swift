import AutoDiff
import DiffEqCore

// Jacobians of the right-hand side by compressed forward mode (Curtis, Powell & Reid, J. Inst.
// Math. Appl. 13, 1974; Gebremedhin, Manne & Pothen, "What color is your Jacobian?", SIAM Rev.
// 47, 2005): columns that share no row get one color and one dual direction, so a Jacobian
// costs ceil(colors / 8) dual evaluations of `f` instead of ceil(columns / 8). The structure
// comes from the reverse-mode tape the adjoint records anyway (``RHSTape/dependencyPattern``).
//
// Each entry equals the dense evaluation's bitwise: dual arithmetic treats its directions
// independently, and every intermediate value feeding output `i` depends only on inputs that
// reach `i`, so in the direction of a color the one column of that color reaching `i` is the
// only one that contributes (the others contribute exact zeros).

/// `∂f/∂u` (and optionally `∂f/∂p`) of a model by compressed forward mode, with buffers
/// allocated once. Built only when it takes fewer dual evaluations than the dense chunks.
@usableFromInline
final class _CompressedJacobian<Model: ODEModel> {
    @usableFromInline typealias D = Dual<8, Double>
    @usableFromInline let model: Model
    @usableFromInline let n: Int
    @usableFromInline let np: Int
    /// `n` (∂f/∂u) or `n + np` (∂f/∂u and ∂f/∂p).
    @usableFromInline let columns: Int
    @usableFromInline let colors: Int
    /// The color of each column.
    @usableFromInline let color: [Int]
    /// Row `i`'s structurally nonzero columns at `entryColumn[rowStart[i] ..< rowStart[i + 1]]`.
    @usableFromInline let rowStart: [Int]
    @usableFromInline let entryColumn: [Int]
    @usableFromInline var ud: [D]
    @usableFromInline var pd: [D]
    @usableFromInline var out: [D]

    /// `nil` when coloring saves no dual evaluation over dense chunks of eight columns.
    @inlinable
    init?(_ model: Model, pattern: [[Int]], n: Int, p: [Double], includeParameters: Bool) {
        let np = p.count
        let columns = includeParameters ? n + np : n
        guard pattern.count == n else { return nil }
        var rowStart = [0]
        var entryColumn: [Int] = []
        var rowsOfColumn = [[Int]](repeating: [], count: columns)
        for (i, row) in pattern.enumerated() {
            for j in row where j < columns {
                entryColumn.append(j)
                rowsOfColumn[j].append(i)
            }
            rowStart.append(entryColumn.count)
        }
        // Greedy coloring in column order: a column takes the smallest color not used by a
        // column sharing a row with it.
        var color = [Int](repeating: -1, count: columns)
        var forbiddenBy = [Int](repeating: -1, count: columns)
        var colors = 0
        for j in 0..<columns {
            for i in rowsOfColumn[j] {
                for e in rowStart[i]..<rowStart[i + 1] {
                    let c = color[entryColumn[e]]
                    if c >= 0 { forbiddenBy[c] = j }
                }
            }
            var c = 0
            while forbiddenBy[c] == j { c += 1 }
            color[j] = c
            colors = Swift.max(colors, c + 1)
        }
        guard (colors + 7) / 8 < (columns + 7) / 8 else { return nil }
        self.model = model
        self.n = n
        self.np = np
        self.columns = columns
        self.colors = colors
        self.color = color
        self.rowStart = rowStart
        self.entryColumn = entryColumn
        ud = [D](repeating: .zero, count: n)
        pd = p.map { D(constant: $0) }
        out = [D](repeating: .zero, count: n)
    }

    /// Dual evaluations per Jacobian.
    @inlinable var evaluationsPerJacobian: Int { (colors + 7) / 8 }

    /// Writes the Jacobian into the `count` entries at `J`: `∂f_i/∂x_j` at `J[i + j * n]`, or with
    /// `negatedTranspose` its negation at `J[j + i * leading]` (the adjoint systems' layouts:
    /// `−(∂f/∂u)ᵀ`, and with the parameter columns the `[λ; μ]` system's Jacobian).
    @inlinable
    func evaluate(
        into J: UnsafeMutablePointer<Double>, count: Int, u: UnsafePointer<Double>, p: [Double], t: Double,
        negatedTranspose: Bool, leading: Int
    ) {
        let n = self.n, np = self.np, columns = self.columns
        J.update(repeating: 0, count: count)
        // The buffers move into locals for the loop: uniquely owned, no exclusivity checks.
        var ud: [D] = [], pd: [D] = [], out: [D] = []
        swap(&ud, &self.ud)
        swap(&pd, &self.pd)
        swap(&out, &self.out)
        let td = D(constant: t)
        var lo = 0
        while lo < colors {
            for i in 0..<n { ud[i] = D(constant: u[i]) }
            for k in 0..<np { pd[k] = D(constant: p[k]) }
            for j in 0..<columns {
                let c = color[j] &- lo
                guard c >= 0 && c < 8 else { continue }
                if j < n { ud[j].partials[c] = 1 } else { pd[j - n].partials[c] = 1 }
            }
            model.rhs(&out, ud, pd, td)
            for i in 0..<n {
                for e in rowStart[i]..<rowStart[i + 1] {
                    let j = entryColumn[e]
                    let c = color[j] &- lo
                    guard c >= 0 && c < 8 else { continue }
                    let d = out[i].partials[c]
                    if negatedTranspose { J[j + i * leading] = -d } else { J[i + j * n] = d }
                }
            }
            lo += 8
        }
        swap(&ud, &self.ud)
        swap(&pd, &self.pd)
        swap(&out, &self.out)
    }
}

extension _CompressedJacobian {
    /// The compressed evaluator of `model`'s `∂f/∂u` (with `includeParameters`, of `[∂f/∂u, ∂f/∂p]`),
    /// its structure from `tape` at `(u, p, t)`; `nil` when the model has its own Jacobian, when
    /// the tape cannot give the structure, or when coloring saves nothing.
    @inlinable
    static func make(
        _ model: Model, tape: RHSTape, u: [Double], p: [Double], t: Double, includeParameters: Bool
    ) -> _CompressedJacobian? {
        let columns = includeParameters ? u.count + p.count : u.count
        guard !model.hasAnalyticJacobian, columns > 8,
            let pattern = try? tape.dependencyPattern(u: u, p: p, t: t)
        else { return nil }
        return _CompressedJacobian(model, pattern: pattern, n: u.count, p: p, includeParameters: includeParameters)
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
        model.rhs(&du, u, p, t)
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
}
