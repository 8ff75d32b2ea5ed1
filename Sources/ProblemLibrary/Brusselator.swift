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
