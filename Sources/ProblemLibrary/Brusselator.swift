import DiffEqCore

/// The two-dimensional Brusselator reaction-diffusion system on an `N x N` periodic grid of the
/// unit square, the PDE family of Ma, Dixit, Innes, Guo & Rackauckas ("A comparison of automatic
/// differentiation and continuous sensitivity analysis for derivatives of differential equation
/// solutions", arXiv:1812.01892, §4):
///
///     u_t = B + u²v − (A + 1)u + α Δu,    v_t = A u − u²v + α Δv,
///
/// with `A = 3.4`, `B = 1`, `α = 10` and the initial state `u = 22 (y(1−y))^{3/2}`,
/// `v = 27 (x(1−x))^{3/2}` of that paper (and of the DifferentialEquations.jl stiff-PDE
/// tutorial). `Δ` is the five-point Laplacian with spacing `dx = 1/(N−1)`. The source term the
/// tutorial switches on at `t = 1.1` is left out (the benchmarks stop earlier).
///
/// To make the parameter count grow with the grid, every cell has its own four parameters:
/// `p[4c ..< 4c+4] = [A_c, B_c, α_c(u), α_c(v)]` for cell `c = i + N j`, so `np = 4N²` next to
/// `n = 2N²` states (`N = 5`: 50 states and 100 parameters, the "150 states and parameters" of
/// the SciMLBenchmarks re-run). State layout: `u` of cell `c` at `c`, `v` at `N² + c`.
public struct Brusselator2D: ODEModel, Sendable {
    public let gridSize: Int

    public init(gridSize: Int) {
        precondition(gridSize >= 2, "Brusselator2D needs at least a 2 x 2 grid")
        self.gridSize = gridSize
    }

    public var stateCount: Int { 2 * gridSize * gridSize }
    public var parameterCount: Int { 4 * gridSize * gridSize }

    /// The nominal parameters (the same `A, B, α` in every cell).
    public var nominalParameters: [Double] {
        (0..<(gridSize * gridSize)).flatMap { _ in [3.4, 1.0, 10.0, 10.0] }
    }

    /// The initial state of Ma et al.
    public var initialState: [Double] {
        let N = gridSize, h = 1.0 / Double(N - 1)
        var y = [Double](repeating: 0, count: 2 * N * N)
        for j in 0..<N {
            for i in 0..<N {
                let x = Double(i) * h, yy = Double(j) * h
                y[i + N * j] = 22 * pow32(yy * (1 - yy))
                y[N * N + i + N * j] = 27 * pow32(x * (1 - x))
            }
        }
        return y
    }

    @inlinable
    func pow32(_ s: Double) -> Double { s * s.squareRoot() }

    /// `f` does not depend on `t`: Rosenbrock methods skip the time-derivative evaluation.
    public var isAutonomous: Bool { true }

    @inlinable
    public func rhs<S: DiffEqScalar>(_ du: inout [S], _ y: [S], _ p: [S], _ t: S) {
        let N = gridSize, cells = N * N
        let inv = Double((N - 1) * (N - 1))  // 1/dx²
        for j in 0..<N {
            let jp = j == N - 1 ? 0 : j + 1, jm = j == 0 ? N - 1 : j - 1
            for i in 0..<N {
                let ip = i == N - 1 ? 0 : i + 1, im = i == 0 ? N - 1 : i - 1
                let c = i + N * j
                let u = y[c], v = y[cells + c]
                let lapU = (y[ip + N * j] + y[im + N * j] + y[i + N * jp] + y[i + N * jm] - u.scaled(by: 4)).scaled(by: inv)
                let lapV =
                    (y[cells + ip + N * j] + y[cells + im + N * j] + y[cells + i + N * jp] + y[cells + i + N * jm]
                        - v.scaled(by: 4)).scaled(by: inv)
                let a = p[4 * c], b = p[4 * c + 1]
                let u2v = u * u * v
                du[c] = b + u2v - (a + S(1.0)) * u + p[4 * c + 2] * lapU
                du[cells + c] = a * u - u2v + p[4 * c + 3] * lapV
            }
        }
    }
}

// MARK: Sparse Jacobian

extension Brusselator2D {
    /// The four periodic neighbours of cell `(i, j)` (repeated when `N = 2`, where left and
    /// right are the same cell).
    @usableFromInline
    func neighbours(_ i: Int, _ j: Int) -> [Int] {
        let N = gridSize
        let ip = i == N - 1 ? 0 : i + 1, im = i == 0 ? N - 1 : i - 1
        let jp = j == N - 1 ? 0 : j + 1, jm = j == 0 ? N - 1 : j - 1
        return [ip + N * j, im + N * j, i + N * jp, i + N * jm]
    }

    /// Where `∂f/∂y` has structural nonzeros, compressed sparse column: the rows of column `k`
    /// are `rowIndices[columnStarts[k] ..< columnStarts[k + 1]]`, increasing. Column `u_c` has
    /// `f_u` at `c` and its four neighbours and `f_v` at `c`; column `v_c` has `f_u` at `c` and
    /// `f_v` at `c` and its neighbours: 12N² nonzeros (6 per state) for `N ≥ 3`.
    public var jacobianPattern: (columnStarts: [Int], rowIndices: [Int]) {
        let N = gridSize, cells = N * N
        var starts = [0]
        var rows: [Int] = []
        rows.reserveCapacity(12 * cells)
        for species in 0..<2 {
            for j in 0..<N {
                for i in 0..<N {
                    let c = i + N * j
                    let column: Set<Int> =
                        species == 0
                        ? Set(neighbours(i, j) + [c, cells + c])
                        : Set(neighbours(i, j).map { cells + $0 } + [c, cells + c])
                    rows.append(contentsOf: column.sorted())
                    starts.append(rows.count)
                }
            }
        }
        return (starts, rows)
    }

    /// `∂f/∂y` at `(y, p)` into `values`, one entry per nonzero of ``jacobianPattern`` in its
    /// order (analytic; `f` is autonomous).
    public func jacobianValues(
        _ values: UnsafeMutableBufferPointer<Double>, columnStarts: [Int], rowIndices: [Int],
        _ y: UnsafeBufferPointer<Double>, _ p: [Double]
    ) {
        let N = gridSize, cells = N * N
        let inv = Double((N - 1) * (N - 1))
        for k in 0..<values.count { values[k] = 0 }
        // Adds `value` at (row, column); entries repeat for N = 2 (periodic neighbours coincide).
        func add(_ row: Int, _ column: Int, _ value: Double) {
            var lo = columnStarts[column], hi = columnStarts[column + 1]
            while lo < hi {
                let mid = (lo + hi) / 2
                if rowIndices[mid] < row { lo = mid + 1 } else { hi = mid }
            }
            values[lo] += value
        }
        for j in 0..<N {
            for i in 0..<N {
                let c = i + N * j
                let u = y[c], v = y[cells + c]
                let a = p[4 * c], alphaU = p[4 * c + 2], alphaV = p[4 * c + 3]
                // f_u = B + u²v − (A + 1)u + α_u Δu, f_v = A u − u²v + α_v Δv.
                add(c, c, 2 * u * v - (a + 1) - 4 * alphaU * inv)
                add(c, cells + c, u * u)
                add(cells + c, c, a - 2 * u * v)
                add(cells + c, cells + c, -u * u - 4 * alphaV * inv)
                for nb in neighbours(i, j) {
                    add(c, nb, alphaU * inv)
                    add(cells + c, cells + nb, alphaV * inv)
                }
            }
        }
    }
}
