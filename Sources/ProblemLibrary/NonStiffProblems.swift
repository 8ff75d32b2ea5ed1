import DiffEqCore

// Non-stiff test problems for the explicit Runge-Kutta suite: the Pleiades (seven bodies), the
// Arenstorf orbit (restricted three-body problem), and two DETEST problems with closed-form
// solutions.

// MARK: - Pleiades

/// The Pleiades: seven stars in the plane, masses `mᵢ = p[i-1]` (the test set uses `mᵢ = i`),
/// gravitational constant 1.
///
/// `u = (x₁…x₇, y₁…y₇, x′₁…x′₇, y′₁…y′₇)` (28 components) and
/// `x″ᵢ = Σ_{j≠i} mⱼ (xⱼ − xᵢ) / rᵢⱼ³`, `y″ᵢ = Σ_{j≠i} mⱼ (yⱼ − yᵢ) / rᵢⱼ³`,
/// `rᵢⱼ² = (xᵢ − xⱼ)² + (yᵢ − yⱼ)²`.
///
/// References: E. Hairer, S. P. Nørsett, G. Wanner, Solving Ordinary Differential Equations I,
/// 2nd ed., Springer (1993), §II.10, pp. 245-246; F. Mazzia and C. Magherini, Test Set for
/// Initial Value Problem Solvers, release 2.4 (2008), problem PLEI (§II.6).
public struct Pleiades: ODEModel, Sendable {
    public init() {}

    /// Number of bodies.
    public static let bodies = 7

    @inlinable
    public func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let n = Self.bodies
        for k in 0..<(2 * n) {
            du[k] = u[2 * n + k]
            du[2 * n + k] = 0
        }
        // Each pair once: body i is pulled towards j with mⱼ/r³, body j towards i with mᵢ/r³.
        for i in 0..<n {
            for j in (i + 1)..<n {
                let dx = u[j] - u[i]
                let dy = u[n + j] - u[n + i]
                let r2 = dx * dx + dy * dy
                let invR3 = 1 / (r2 * sqrt(r2))
                let gx = dx * invR3
                let gy = dy * invR3
                du[2 * n + i] += p[j] * gx
                du[3 * n + i] += p[j] * gy
                du[2 * n + j] -= p[i] * gx
                du[3 * n + j] -= p[i] * gy
            }
        }
    }

    public var hasAnalyticJacobian: Bool { true }

    // The accelerations depend on positions only. For a pair (i, j) with d = pⱼ − pᵢ,
    // ∂(d/r³)/∂pⱼ = I/r³ − 3 d dᵀ/r⁵ =: G (symmetric); body i sees +mⱼ G in column j and −mⱼ G on
    // its own diagonal block, and body j the same with mᵢ.
    @inlinable
    public func jacobian<S: DiffEqScalar>(_ J: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let n = Self.bodies
        let dim = 4 * n
        for k in 0..<(dim * dim) { J[k] = 0 }
        for k in 0..<(2 * n) { J[k + (2 * n + k) * dim] = 1 }
        let three: S = 3
        for i in 0..<n {
            for j in (i + 1)..<n {
                let dx = u[j] - u[i]
                let dy = u[n + j] - u[n + i]
                let r2 = dx * dx + dy * dy
                let invR3 = 1 / (r2 * sqrt(r2))
                let invR5 = invR3 / r2
                let gxx = invR3 - three * dx * dx * invR5
                let gxy = -three * dx * dy * invR5
                let gyy = invR3 - three * dy * dy * invR5
                // Rows of body i's accelerations against body j's positions, then j against i.
                for side in 0..<2 {
                    let a = side == 0 ? i : j
                    let b = side == 0 ? j : i
                    let m = side == 0 ? p[j] : p[i]
                    let ax = 2 * n + a, ay = 3 * n + a
                    let bx = b, by = n + b
                    let ox = a, oy = n + a
                    J[ax + bx * dim] += m * gxx
                    J[ax + by * dim] += m * gxy
                    J[ay + bx * dim] += m * gxy
                    J[ay + by * dim] += m * gyy
                    J[ax + ox * dim] -= m * gxx
                    J[ax + oy * dim] -= m * gxy
                    J[ay + ox * dim] -= m * gxy
                    J[ay + oy * dim] -= m * gyy
                }
            }
        }
    }

    /// Total energy `½ Σ mᵢ |vᵢ|² − Σ_{i<j} mᵢ mⱼ / rᵢⱼ`, a first integral.
    @inlinable
    public static func energy<S: DiffEqScalar>(_ u: [S], _ p: [S]) -> S {
        let n = bodies
        var kinetic: S = 0
        var potential: S = 0
        for i in 0..<n {
            let vx = u[2 * n + i], vy = u[3 * n + i]
            kinetic += p[i] * (vx * vx + vy * vy)
            for j in (i + 1)..<n {
                let dx = u[j] - u[i], dy = u[n + j] - u[n + i]
                potential += p[i] * p[j] / sqrt(dx * dx + dy * dy)
            }
        }
        return kinetic.scaled(by: 0.5) - potential
    }
}

// MARK: - Arenstorf orbit

/// The restricted three-body problem in the rotating frame (a satellite moving under the
/// Earth, mass `1 − μ`, at `(−μ, 0)` and the Moon, mass `μ`, at `(1 − μ, 0)`), `p = [μ]`,
/// `u = (y₁, y₂, y′₁, y′₂)`:
///
/// `y″₁ = y₁ + 2y′₂ − μ′(y₁ + μ)/D₁ − μ(y₁ − μ′)/D₂`,
/// `y″₂ = y₂ − 2y′₁ − μ′y₂/D₁ − μy₂/D₂`,
/// `D₁ = ((y₁ + μ)² + y₂²)^{3/2}`, `D₂ = ((y₁ − μ′)² + y₂²)^{3/2}`, `μ′ = 1 − μ`.
///
/// Reference: E. Hairer, S. P. Nørsett, G. Wanner, Solving Ordinary Differential Equations I,
/// 2nd ed., Springer (1993), §II.0, equations (0.1)-(0.2), pp. 129-130 (after R. F. Arenstorf,
/// Amer. J. Math. 85 (1963) 27-35).
public struct Arenstorf: ODEModel, Sendable {
    public init() {}

    @inlinable
    public func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let mu = p[0]
        let muPrime = 1 - mu
        let a1 = u[0] + mu, a2 = u[0] - muPrime, b = u[1]
        let r1 = a1 * a1 + b * b
        let r2 = a2 * a2 + b * b
        let invD1 = 1 / (r1 * sqrt(r1))
        let invD2 = 1 / (r2 * sqrt(r2))
        du[0] = u[2]
        du[1] = u[3]
        du[2] = u[0] + 2 * u[3] - muPrime * a1 * invD1 - mu * a2 * invD2
        du[3] = u[1] - 2 * u[2] - muPrime * b * invD1 - mu * b * invD2
    }

    public var hasAnalyticJacobian: Bool { true }

    // For d = (a, b) and D = |d|³: ∂(d/D)/∂(y₁, y₂) = I/|d|³ − 3 d dᵀ/|d|⁵.
    @inlinable
    public func jacobian<S: DiffEqScalar>(_ J: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let mu = p[0]
        let muPrime = 1 - mu
        let three: S = 3
        let a1 = u[0] + mu, a2 = u[0] - muPrime, b = u[1]
        let r1 = a1 * a1 + b * b
        let r2 = a2 * a2 + b * b
        let inv3a = 1 / (r1 * sqrt(r1)), inv5a = inv3a / r1
        let inv3b = 1 / (r2 * sqrt(r2)), inv5b = inv3b / r2
        let gxx = muPrime * (inv3a - three * a1 * a1 * inv5a) + mu * (inv3b - three * a2 * a2 * inv5b)
        let gxy = -three * (muPrime * a1 * b * inv5a + mu * a2 * b * inv5b)
        let gyy = muPrime * (inv3a - three * b * b * inv5a) + mu * (inv3b - three * b * b * inv5b)
        for k in 0..<16 { J[k] = 0 }
        J[0 + 2 * 4] = 1
        J[1 + 3 * 4] = 1
        J[2 + 0 * 4] = 1 - gxx
        J[2 + 1 * 4] = -gxy
        J[2 + 3 * 4] = 2
        J[3 + 0 * 4] = -gxy
        J[3 + 1 * 4] = 1 - gyy
        J[3 + 2 * 4] = -2
    }

    /// The Jacobi integral `y₁² + y₂² + 2μ′/r₁ + 2μ/r₂ − (y′₁² + y′₂²)`, constant along
    /// solutions (`r₁`, `r₂`: distances to the Earth and the Moon).
    @inlinable
    public static func jacobiIntegral<S: DiffEqScalar>(_ u: [S], _ p: [S]) -> S {
        let mu = p[0]
        let muPrime = 1 - mu
        let a1 = u[0] + mu, a2 = u[0] - muPrime, b = u[1]
        let potential = muPrime / sqrt(a1 * a1 + b * b) + mu / sqrt(a2 * a2 + b * b)
        return u[0] * u[0] + u[1] * u[1] + 2 * potential - (u[2] * u[2] + u[3] * u[3])
    }
}

// MARK: - DETEST A2 and A4

/// DETEST problem A2: `y′ = −y³/2`, `y(0) = 1`, `t ∈ [0, 20]`; solution `y = 1/√(1 + t)`.
///
/// Reference: T. E. Hull, W. H. Enright, B. M. Fellen, A. E. Sedgwick, "Comparing numerical
/// methods for ordinary differential equations", SIAM J. Numer. Anal. 9 (1972) 603-637,
/// problem class A (single equations), problem A2.
public struct DetestA2: ODEModel, Sendable {
    public init() {}

    @inlinable
    public func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = -(u[0] * u[0] * u[0]).scaled(by: 0.5)
    }

    public var hasAnalyticJacobian: Bool { true }

    @inlinable
    public func jacobian<S: DiffEqScalar>(_ J: inout [S], _ u: [S], _ p: [S], _ t: S) {
        J[0] = -(u[0] * u[0]).scaled(by: 1.5)
    }

    /// The exact solution from `y(0) = 1`.
    public func analytic(_ t: Double) -> [Double] { [1 / sqrt(1 + t)] }
}

/// DETEST problem A4 (logistic growth): `y′ = (y/4)(1 − y/20)`, `y(0) = 1`, `t ∈ [0, 20]`;
/// solution `y = 20 / (1 + 19 e^{−t/4})`.
///
/// Reference: T. E. Hull, W. H. Enright, B. M. Fellen, A. E. Sedgwick, "Comparing numerical
/// methods for ordinary differential equations", SIAM J. Numer. Anal. 9 (1972) 603-637,
/// problem class A (single equations), problem A4.
public struct DetestA4: ODEModel, Sendable {
    public init() {}

    @inlinable
    public func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = u[0].scaled(by: 0.25) * (1 - u[0].scaled(by: 0.05))
    }

    public var hasAnalyticJacobian: Bool { true }

    @inlinable
    public func jacobian<S: DiffEqScalar>(_ J: inout [S], _ u: [S], _ p: [S], _ t: S) {
        J[0] = 0.25 - u[0].scaled(by: 0.025)
    }

    /// The exact solution from `y(0) = 1`.
    public func analytic(_ t: Double) -> [Double] { [20 / (1 + 19 * exp(-t / 4))] }
}

// MARK: - Factories and references

extension TestProblems {
    /// The Pleiades (PLEI) with masses `mᵢ = i` on `t ∈ [0, 3]`: positions
    /// `x(0) = (3, 3, −1, −3, 2, −2, 2)`, `y(0) = (3, −3, 2, 0, 0, −4, 4)`, velocities
    /// `x′(0) = (0, 0, 0, 0, 0, 1.75, −1.5)`, `y′(0) = (0, 0, 0, −1.25, 1, 0, 0)` (HNW I §II.10;
    /// test set PLEI §II.6.2).
    public static func pleiades<S: DiffEqScalar>(_ scalar: S.Type = Double.self)
        -> ODEProblem<GenericRHS<Pleiades, S>>
    {
        let x0: [S] = [3, 3, -1, -3, 2, -2, 2]
        let y0: [S] = [3, -3, 2, 0, 0, -4, 4]
        let vx0: [S] = [0, 0, 0, 0, 0, 1.75, -1.5]
        let vy0: [S] = [0, 0, 0, -1.25, 1, 0, 0]
        let masses: [S] = [1, 2, 3, 4, 5, 6, 7]
        return ODEProblem(model: Pleiades(), u0: x0 + y0 + vx0 + vy0, tspan: (0, 3), p: masses)
    }

    /// The reference solution of PLEI at t = 3, ordered as the state
    /// `(x₁…x₇, y₁…y₇, x′₁…x′₇, y′₁…y′₇)`.
    public static let pleiadesReference = ReferenceSolution(
        t: 3,
        u: [
            // x₁ … x₇
            0.3706139143970502e+0, 0.3237284092057233e+1, -0.3222559032418324e+1, 0.6597091455775310e+0,
            0.3425581707156584e+0, 0.1562172101400631e+1, -0.7003092922212495e+0,
            // y₁ … y₇
            -0.3943437585517392e+1, -0.3271380973972550e+1, 0.5225081843456543e+1, -0.2590612434977470e+1,
            0.1198213693392275e+1, -0.2429682344935824e+0, 0.1091449240428980e+1,
            // x′₁ … x′₇
            0.3417003806314313e+1, 0.1354584501625501e+1, -0.2590065597810775e+1, 0.2025053734714242e+1,
            -0.1155815100160448e+1, -0.8072988170223021e+0, 0.5952396354208710e+0,
            // y′₁ … y′₇
            -0.3741244961234010e+1, 0.3773459685750630e+0, 0.9386858869551073e+0, 0.3667922227200571e+0,
            -0.3474046353808490e+0, 0.2344915448180937e+1, -0.1947020434263292e+1,
        ],
        source: "F. Mazzia and C. Magherini, Test Set for Initial Value Problem Solvers, release 2.4 "
            + "(University of Bari, 2008), problem PLEI, Table II.6.2 (reference solution at t = 3, computed "
            + "with PSIDE on a Cray C90, rtol = atol = 1e-16); same digits in subroutine pleiasoln of plei.f "
            + "(revision 1.2, 2006/10/02)")

    /// Test-set settings of PLEI: `reltol = 10^-(4+m/4)`, `m = 0...24`, `abstol = reltol`,
    /// `h0 = 10⁻² reltol`; `scd` over the 14 positions.
    public static let pleiadesInfo = TestProblemInfo(
        name: "PLEI", isStiff: false, reltolExponentOffset: 4, reltolSteps: 24, abstolPerReltol: 1,
        initialStepPerReltol: 1e-2, scdComponents: 0..<14,
        source: "Mazzia & Magherini, Test Set for IVP Solvers, release 2.4, problem PLEI, §II.6.4")

    /// The period of the Arenstorf orbit, HNW I p. 130.
    public static let arenstorfPeriod = 17.0652165601579625588917206249

    /// The Arenstorf orbit: `μ = 0.012277471`, `y(0) = (0.994, 0, 0, −2.00158510637908252240537862224)`,
    /// on `[0, tEnd]` (one period by default; HNW I §II.0, p. 130).
    public static func arenstorf<S: DiffEqScalar>(_ scalar: S.Type = Double.self, tEnd: Double = arenstorfPeriod)
        -> ODEProblem<GenericRHS<Arenstorf, S>>
    {
        let u0: [S] = [0.994, 0, 0, -2.00158510637908252240537862224]
        return ODEProblem(model: Arenstorf(), u0: u0, tspan: (0, tEnd), p: [0.012277471])
    }

    /// The Arenstorf orbit is periodic: after one period it is back at its initial state.
    public static let arenstorfReference = ReferenceSolution(
        t: arenstorfPeriod,
        u: [0.994, 0, 0, -2.00158510637908252240537862224],
        source: "E. Hairer, S. P. Nørsett, G. Wanner, Solving Ordinary Differential Equations I, 2nd ed. "
            + "(Springer, 1993), §II.0, pp. 129-130: the orbit with these initial values is periodic with "
            + "period T = 17.0652165601579625588917206249")

    /// DETEST A2 on `[0, 20]`, `y(0) = 1`.
    public static func detestA2<S: DiffEqScalar>(_ scalar: S.Type = Double.self)
        -> ODEProblem<GenericRHS<DetestA2, S>>
    {
        ODEProblem(model: DetestA2(), u0: [1], tspan: (0, 20))
    }

    /// DETEST A2 at t = 20 from its closed form `1/√21`.
    public static let detestA2Reference = ReferenceSolution(
        t: 20, u: DetestA2().analytic(20),
        source: "closed form y = 1/sqrt(1 + t): T. E. Hull, W. H. Enright, B. M. Fellen, A. E. Sedgwick, "
            + "SIAM J. Numer. Anal. 9 (1972) 603-637, problem A2")

    /// DETEST A4 on `[0, 20]`, `y(0) = 1`.
    public static func detestA4<S: DiffEqScalar>(_ scalar: S.Type = Double.self)
        -> ODEProblem<GenericRHS<DetestA4, S>>
    {
        ODEProblem(model: DetestA4(), u0: [1], tspan: (0, 20))
    }

    /// DETEST A4 at t = 20 from its closed form `20/(1 + 19e⁻⁵)`.
    public static let detestA4Reference = ReferenceSolution(
        t: 20, u: DetestA4().analytic(20),
        source: "closed form y = 20/(1 + 19 exp(-t/4)): T. E. Hull, W. H. Enright, B. M. Fellen, "
            + "A. E. Sedgwick, SIAM J. Numer. Anal. 9 (1972) 603-637, problem A4")
}
