import DiffEqCore

/// The 2-species diurnal kinetics advection-diffusion problem of SUNDIALS' example
/// `cvsDiurnal_kry` (and `cvDiurnal_kry`), on its 10 x 10 mesh: 200 stiff states.
///
///     ∂c_i/∂t = K_h ∂²c_i/∂x² + V ∂c_i/∂x + ∂/∂y (K_v(y) ∂c_i/∂y) + R_i(c_1, c_2, t),
///     R_1 = −q_1 c_1 c_3 − q_2 c_1 c_2 + 2 q_3(t) c_3 + q_4(t) c_2,
///     R_2 =  q_1 c_1 c_3 − q_2 c_1 c_2 − q_4(t) c_2,
///     K_v(y) = K_v0 e^(y/5),   q_j(t) = exp(−a_j / sin(ωt)) while sin(ωt) > 0, else 0 (j = 3, 4),
///
/// on `0 ≤ x ≤ 20`, `30 ≤ y ≤ 50` (km) with homogeneous Neumann boundaries, for one day
/// `0 ≤ t ≤ 86400` s; central differences on a uniform mesh (boundary neighbours reflected).
/// The constants, the initial profiles and the state layout (the two species of mesh point
/// `(jx, jy)` at `2 (jx + 10 jy)` and `+1`) are the example's, as are `ω = π/43200` with its
/// `π ≈ 3.1415926535898` and the tolerances `reltol = 1e-5`, `abstol = 1e-3` of the published run.
///
/// Source: SUNDIALS v6.4.1, `examples/cvodes/serial/cvsDiurnal_kry.c` (S. D. Cohen,
/// A. C. Hindmarsh, R. Serban, LLNL), and its output `cvsDiurnal_kry.out`
/// (``publishedOutput``); the problem also appears in the CVODES User Guide's examples document
/// (Hindmarsh & Serban, "Example Programs for CVODE", §2.3 `cvDiurnal_kry`).
public struct DiurnalKinetics2D: ODEModel, Sendable {
    public static let meshX = 10
    public static let meshY = 10
    public static let speciesCount = 2

    // The example's constants (cvsDiurnal_kry.c, "Problem Constants").
    @usableFromInline static let kh = 4.0e-6
    @usableFromInline static let velocity = 0.001
    @usableFromInline static let kv0 = 1.0e-8
    @usableFromInline static let q1 = 1.63e-16
    @usableFromInline static let q2 = 4.66e-16
    @usableFromInline static let c3 = 3.7e16
    @usableFromInline static let a3 = 22.62
    @usableFromInline static let a4 = 7.601
    @usableFromInline static let pi = 3.1415926535898
    @usableFromInline static let halfDay = 4.32e4
    @usableFromInline static let xMin = 0.0, xMax = 20.0, yMin = 30.0, yMax = 50.0

    @usableFromInline let omega = pi / halfDay
    @usableFromInline let dx = (xMax - xMin) / Double(meshX - 1)
    @usableFromInline let dy = (yMax - yMin) / Double(meshY - 1)
    /// `K_h/dx²`, `V/(2dx)` and `K_v0/dy²`.
    @usableFromInline var horizontalDiffusion: Double { Self.kh / (dx * dx) }
    @usableFromInline var horizontalAdvection: Double { Self.velocity / (2 * dx) }
    @usableFromInline var verticalDiffusion: Double { (1 / (dy * dy)) * Self.kv0 }

    public init() {}

    public var stateCount: Int { Self.speciesCount * Self.meshX * Self.meshY }
    /// The span of the published run: one day.
    public var timeSpan: (Double, Double) { (0, 86_400) }

    /// Index of species `species` (0 or 1) at mesh point `(jx, jy)`.
    @inlinable
    public static func index(species: Int, jx: Int, jy: Int) -> Int { species + 2 * jx + 2 * meshX * jy }

    /// The example's polynomial initial profiles, `c_1 = 10⁶ α(x) β(y)`, `c_2 = 10¹² α(x) β(y)`.
    public var initialState: [Double] {
        var u = [Double](repeating: 0, count: stateCount)
        for jy in 0..<Self.meshY {
            let y = Self.yMin + Double(jy) * dy
            var cy = 0.1 * (y - 40)
            cy *= cy
            cy = 1 - cy + 0.5 * cy * cy
            for jx in 0..<Self.meshX {
                let x = Self.xMin + Double(jx) * dx
                var cx = 0.1 * (x - 10)
                cx *= cx
                cx = 1 - cx + 0.5 * cx * cx
                u[Self.index(species: 0, jx: jx, jy: jy)] = 1.0e6 * cx * cy
                u[Self.index(species: 1, jx: jx, jy: jy)] = 1.0e12 * cx * cy
            }
        }
        return u
    }

    /// `q_3(t)` and `q_4(t)`.
    @inlinable
    func rates(_ t: Double) -> (q3: Double, q4: Double) {
        let s = Double.sin(omega * t)
        return s > 0 ? (Double.exp(-Self.a3 / s), Double.exp(-Self.a4 / s)) : (0, 0)
    }

    /// The vertical diffusion coefficients `K_v0 e^(y/5)/dy²` at `y_{jy ∓ 1/2}`.
    @inlinable
    func verticalCoefficients(_ jy: Int) -> (down: Double, up: Double) {
        let yDown = Self.yMin + (Double(jy) - 0.5) * dy
        let yUp = yDown + dy
        return (verticalDiffusion * Double.exp(0.2 * yDown), verticalDiffusion * Double.exp(0.2 * yUp))
    }

    /// Mesh point `(jx, jy)` with its four transport neighbours, a boundary neighbour reflected
    /// into the mesh (homogeneous Neumann, as the example's `f`), and the vertical diffusion
    /// coefficients of its row (``verticalCoefficients(_:)``).
    @usableFromInline
    struct Stencil {
        @usableFromInline let jx: Int, jy: Int
        @usableFromInline let jxLeft: Int, jxRight: Int, jyDown: Int, jyUp: Int
        @usableFromInline let cyDown: Double, cyUp: Double

        /// The point `(jx, jy)`, with its row's vertical coefficients.
        @inlinable
        init(jx: Int, jy: Int, vertical: (down: Double, up: Double)) {
            let mx = DiurnalKinetics2D.meshX, my = DiurnalKinetics2D.meshY
            self.jx = jx
            self.jy = jy
            jxLeft = jx == 0 ? 1 : jx - 1
            jxRight = jx == mx - 1 ? mx - 2 : jx + 1
            jyDown = jy == 0 ? 1 : jy - 1
            jyUp = jy == my - 1 ? my - 2 : jy + 1
            (cyDown, cyUp) = vertical
        }

        /// Index of species `i` at this point and at each neighbour.
        @inlinable func center(_ i: Int) -> Int { DiurnalKinetics2D.index(species: i, jx: jx, jy: jy) }
        @inlinable func down(_ i: Int) -> Int { DiurnalKinetics2D.index(species: i, jx: jx, jy: jyDown) }
        @inlinable func up(_ i: Int) -> Int { DiurnalKinetics2D.index(species: i, jx: jx, jy: jyUp) }
        @inlinable func left(_ i: Int) -> Int { DiurnalKinetics2D.index(species: i, jx: jxLeft, jy: jy) }
        @inlinable func right(_ i: Int) -> Int { DiurnalKinetics2D.index(species: i, jx: jxRight, jy: jy) }
    }

    /// Calls `body` at every mesh point, row by row (`jy` outer, `jx` inner: the state's order),
    /// the one traversal of `f`, its Jacobian and `J v`.
    @inlinable
    func forEachStencil(_ body: (Stencil) -> Void) {
        for jy in 0..<Self.meshY {
            let vertical = verticalCoefficients(jy)
            for jx in 0..<Self.meshX { body(Stencil(jx: jx, jy: jy, vertical: vertical)) }
        }
    }

    /// `f` does depend on `t` (the diurnal rates).
    public var isAutonomous: Bool { false }

    @inlinable
    public func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        // The rates depend on t only: derivatives with respect to t are not carried (the
        // methods that need ∂f/∂t difference it).
        let (q3, q4) = rates(t.primal)
        let hd = horizontalDiffusion, ha = horizontalAdvection
        forEachStencil { s in
            let c1 = u[s.center(0)]
            let c2 = u[s.center(1)]
            let qq1 = c1.scaled(by: Self.q1).scaled(by: Self.c3)
            let qq2 = (c1.scaled(by: Self.q2)) * c2
            let qq3 = q3 * Self.c3
            let qq4 = c2.scaled(by: q4)
            for i in 0..<2 {
                let c = i == 0 ? c1 : c2
                let kinetics = i == 0 ? -qq1 - qq2 + S(2 * qq3) + qq4 : qq1 - qq2 - qq4
                let down = u[s.down(i)], up = u[s.up(i)]
                let left = u[s.left(i)], right = u[s.right(i)]
                let vertical = (up - c).scaled(by: s.cyUp) - (c - down).scaled(by: s.cyDown)
                let horizontal = (right - c.scaled(by: 2) + left).scaled(by: hd)
                let advection = (right - left).scaled(by: ha)
                du[s.center(i)] = vertical + horizontal + advection + kinetics
            }
        }
    }

    /// The dense analytic Jacobian (so that the native stiff methods need no automatic
    /// differentiation of 200 columns per step): the kinetics' 2 x 2 block per mesh point and
    /// the transport stencil, reflected boundary neighbours accumulated.
    public var hasAnalyticJacobian: Bool { true }

    @inlinable
    public func jacobian<S: DiffEqScalar>(_ J: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let n = stateCount
        for k in 0..<(n * n) { J[k] = .zero }
        let q4 = rates(t.primal).q4
        let hd = horizontalDiffusion, ha = horizontalAdvection
        forEachStencil { s in
            let i1 = s.center(0), i2 = i1 + 1
            let c1 = u[i1], c2 = u[i2]
            J[i1 + n * i1] = J[i1 + n * i1] - c2.scaled(by: Self.q2) - S(Self.q1 * Self.c3)
            J[i1 + n * i2] = J[i1 + n * i2] - c1.scaled(by: Self.q2) + S(q4)
            J[i2 + n * i1] = J[i2 + n * i1] - c2.scaled(by: Self.q2) + S(Self.q1 * Self.c3)
            J[i2 + n * i2] = J[i2 + n * i2] - c1.scaled(by: Self.q2) - S(q4)
            for i in 0..<2 {
                let row = i1 + i
                let entries: [(Int, Double)] = [
                    (row, -(s.cyUp + s.cyDown) - 2 * hd),
                    (s.up(i), s.cyUp),
                    (s.down(i), s.cyDown),
                    (s.right(i), hd + ha),
                    (s.left(i), hd - ha),
                ]
                for (column, value) in entries { J[row + n * column] = J[row + n * column] + S(value) }
            }
        }
    }

    /// `J v` at `(u, t)`, exactly (the example's `jtv`): for the Krylov solvers.
    public func jacobianTimesVector(
        _ Jv: UnsafeMutableBufferPointer<Double>, _ v: UnsafeBufferPointer<Double>, _ u: UnsafeBufferPointer<Double>,
        _ t: Double
    ) {
        let q4 = rates(t).q4
        let hd = horizontalDiffusion, ha = horizontalAdvection
        forEachStencil { s in
            let c1 = u[s.center(0)]
            let c2 = u[s.center(1)]
            let v1 = v[s.center(0)]
            let v2 = v[s.center(1)]
            for i in 0..<2 {
                let vc = i == 0 ? v1 : v2
                let down = v[s.down(i)], up = v[s.up(i)]
                let left = v[s.left(i)], right = v[s.right(i)]
                var w =
                    i == 0
                    ? -(Self.q1 * Self.c3 + Self.q2 * c2) * v1 + (q4 - Self.q2 * c1) * v2
                    : (Self.q1 * Self.c3 - Self.q2 * c2) * v1 - (q4 + Self.q2 * c1) * v2
                w += -(s.cyUp + s.cyDown) * vc + s.cyUp * up + s.cyDown * down
                w += hd * (right - 2 * vc + left)
                w += ha * (right - left)
                Jv[s.center(i)] = w
            }
        }
    }

    /// The 2 x 2 diagonal block of `∂f/∂u` at mesh point `cell = jx + 10 jy` (column-major into
    /// `J`): the kinetics plus the transport's interior diagonal `−(K_v↓ + K_v↑ + 2K_h/dx²)`,
    /// as the example's `Precond` builds it (it ignores the reflected boundary neighbours).
    public func diagonalBlock(_ cell: Int, _ J: UnsafeMutableBufferPointer<Double>, _ u: UnsafeBufferPointer<Double>, _ t: Double) {
        let q4 = rates(t).q4
        let jy = cell / Self.meshX
        let (cyDown, cyUp) = verticalCoefficients(jy)
        let diagonal = -(cyDown + cyUp + 2 * horizontalDiffusion)
        let c1 = u[2 * cell], c2 = u[2 * cell + 1]
        J[0] = (-Self.q1 * Self.c3 - Self.q2 * c2) + diagonal
        J[1] = Self.q1 * Self.c3 - Self.q2 * c2
        J[2] = -Self.q2 * c1 + q4
        J[3] = (-Self.q2 * c1 - q4) + diagonal
    }

    /// One printed line pair of the published run: `c_1` and `c_2` at the bottom-left corner
    /// `(0, 0)`, the middle `(4, 4)` and the top-right corner `(9, 9)`, and CVODE's step count.
    public struct PublishedOutput: Sendable {
        public let t: Double
        public let steps: Int
        public let c1: [Double]
        public let c2: [Double]
    }

    /// The mesh points printed: bottom left, middle (`MX/2 − 1`, `MY/2 − 1`), top right.
    public static let printedPoints = [(0, 0), (4, 4), (9, 9)]

    /// SUNDIALS' published output of `cvsDiurnal_kry` (CVODES, BDF, SPGMR with left
    /// block-diagonal preconditioning and the exact `J v`, reltol 1e-5, abstol 1e-3, `CV_NORMAL`
    /// to every 2 h), printed with 4 significant digits (`%12.3e`).
    /// Source: SUNDIALS v6.4.1, `examples/cvodes/serial/cvsDiurnal_kry.out` (identical to
    /// `examples/cvode/serial/cvDiurnal_kry.out` of the same release). Final statistics there:
    /// nst = 491, nfe = 630, nni = 627, nli = 643, nsetups = 82, netf = 29, npe = 9, nps = 1214.
    public static let publishedOutput: [PublishedOutput] = [
        .init(t: 7.20e3, steps: 219, c1: [1.047e4, 2.964e4, 1.119e4], c2: [2.527e11, 7.154e11, 2.700e11]),
        .init(t: 1.44e4, steps: 251, c1: [6.659e6, 5.316e6, 7.301e6], c2: [2.582e11, 2.057e11, 2.833e11]),
        .init(t: 2.16e4, steps: 277, c1: [2.665e7, 1.036e7, 2.931e7], c2: [2.993e11, 1.028e11, 3.313e11]),
        .init(t: 2.88e4, steps: 307, c1: [8.702e6, 1.292e7, 9.650e6], c2: [3.380e11, 5.029e11, 3.751e11]),
        .init(t: 3.60e4, steps: 338, c1: [1.404e4, 2.029e4, 1.561e4], c2: [3.387e11, 4.894e11, 3.765e11]),
        .init(t: 4.32e4, steps: 393, c1: [-7.891e-6, -1.123e-6, -8.723e-6], c2: [3.382e11, 1.355e11, 3.804e11]),
        .init(t: 5.04e4, steps: 421, c1: [-1.595e-8, -1.771e-6, -3.117e-8], c2: [3.358e11, 4.930e11, 3.864e11]),
        .init(t: 5.76e4, steps: 439, c1: [-2.127e-6, -1.513e-4, -2.951e-6], c2: [3.320e11, 9.650e11, 3.909e11]),
        .init(t: 6.48e4, steps: 458, c1: [-1.084e-9, -7.686e-8, -1.499e-9], c2: [3.313e11, 8.922e11, 3.963e11]),
        .init(t: 7.20e4, steps: 469, c1: [-1.093e-10, -7.736e-9, -1.510e-10], c2: [3.330e11, 6.186e11, 4.039e11]),
        .init(t: 7.92e4, steps: 480, c1: [-1.624e-12, -1.151e-10, -2.246e-12], c2: [3.334e11, 6.669e11, 4.120e11]),
        .init(t: 8.64e4, steps: 491, c1: [3.501e-14, 2.474e-12, 4.816e-14], c2: [3.352e11, 9.107e11, 4.163e11]),
    ]
}
