import DiffEqCore

// Stiff test problems of the IVP test set (F. Mazzia and C. Magherini, Test Set for Initial
// Value Problem Solvers, release 2.4, Report 4/2008, University of Bari), each with the test
// set's parameters, initial values, interval, reference solution and tolerance sweep. POLLU is
// in Pollution.swift. Every model has an analytic Jacobian.

// MARK: - HIRES

/// HIRES: the "High Irradiance RESponse" of photomorphogenesis (eight species), with the rate
/// constants `p = [k₁, k₂, k₃, k₄, k₅, k₆, k₊, k₋, k*, o_ks]` of the test set's reaction scheme:
///
/// ```
/// y₁′ = −k₁y₁ + k₂y₂ + k₆y₃ + o_ks          y₅′ = −(k₅+k₁)y₅ + k₂y₆ + k₂y₇
/// y₂′ = k₁y₁ − (k₂+k₃)y₂                     y₆′ = −k₊y₆y₈ + k₄y₄ + k₁y₅ − k₂y₆ + k₋y₇
/// y₃′ = −(k₆+k₁)y₃ + k₂y₄ + k₅y₅             y₇′ = k₊y₆y₈ − (k₂+k₋+k*)y₇
/// y₄′ = k₃y₂ + k₁y₃ − (k₄+k₂)y₄              y₈′ = −k₊y₆y₈ + (k₂+k₋+k*)y₇
/// ```
///
/// With the published constants this is the test set's
/// `f = (−1.71y₁ + 0.43y₂ + 8.32y₃ + 0.0007, 1.71y₁ − 8.75y₂, …)`. `y₇ + y₈` (total enzyme) is
/// conserved.
///
/// References: E. Schäfer, J. Math. Biology 2 (1975) 41-56; E. Hairer and G. Wanner, Solving
/// Ordinary Differential Equations II, 2nd ed., Springer (1996), §IV.10; Mazzia & Magherini,
/// Test Set release 2.4, problem HIRES (§II.1).
public struct Hires: ODEModel, Sendable {
    public init() {}

    @inlinable
    public func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let k1 = p[0], k2 = p[1], k3 = p[2], k4 = p[3], k5 = p[4], k6 = p[5]
        let kPlus = p[6], kMinus = p[7], kStar = p[8], oks = p[9]
        let binding = kPlus * u[5] * u[7]
        let release = (k2 + kMinus + kStar) * u[6]
        du[0] = -k1 * u[0] + k2 * u[1] + k6 * u[2] + oks
        du[1] = k1 * u[0] - (k2 + k3) * u[1]
        du[2] = -(k6 + k1) * u[2] + k2 * u[3] + k5 * u[4]
        du[3] = k3 * u[1] + k1 * u[2] - (k4 + k2) * u[3]
        du[4] = -(k5 + k1) * u[4] + k2 * (u[5] + u[6])
        du[5] = -binding + k4 * u[3] + k1 * u[4] - k2 * u[5] + kMinus * u[6]
        du[6] = binding - release
        du[7] = release - binding
    }

    public var hasAnalyticJacobian: Bool { true }
    public var isAutonomous: Bool { true }

    @inlinable
    public func jacobian<S: DiffEqScalar>(_ J: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let n = 8
        let k1 = p[0], k2 = p[1], k3 = p[2], k4 = p[3], k5 = p[4], k6 = p[5]
        let kPlus = p[6], kMinus = p[7], kStar = p[8]
        for k in 0..<(n * n) { J[k] = 0 }
        J[0 + 0 * n] = -k1; J[0 + 1 * n] = k2; J[0 + 2 * n] = k6
        J[1 + 0 * n] = k1; J[1 + 1 * n] = -(k2 + k3)
        J[2 + 2 * n] = -(k6 + k1); J[2 + 3 * n] = k2; J[2 + 4 * n] = k5
        J[3 + 1 * n] = k3; J[3 + 2 * n] = k1; J[3 + 3 * n] = -(k4 + k2)
        J[4 + 4 * n] = -(k5 + k1); J[4 + 5 * n] = k2; J[4 + 6 * n] = k2
        let dBindingDy6 = kPlus * u[7]
        let dBindingDy8 = kPlus * u[5]
        let releaseRate = k2 + kMinus + kStar
        J[5 + 3 * n] = k4; J[5 + 4 * n] = k1; J[5 + 5 * n] = -dBindingDy6 - k2
        J[5 + 6 * n] = kMinus; J[5 + 7 * n] = -dBindingDy8
        J[6 + 5 * n] = dBindingDy6; J[6 + 6 * n] = -releaseRate; J[6 + 7 * n] = dBindingDy8
        J[7 + 5 * n] = -dBindingDy6; J[7 + 6 * n] = releaseRate; J[7 + 7 * n] = -dBindingDy8
    }
}

// MARK: - OREGO

/// The Oregonator (OREGO), Field and Noyes' model of the Belousov-Zhabotinskii reaction,
/// `p = [s, q, w]`:
///
/// `y₁′ = s(y₂ − y₁y₂ + y₁ − qy₁²)`, `y₂′ = (−y₂ − y₁y₂ + y₃)/s`, `y₃′ = w(y₁ − y₃)`.
///
/// References: R. J. Field, E. Körös, R. M. Noyes, J. Am. Chem. Soc. 94 (1972) 8649-8664;
/// R. J. Field and R. M. Noyes, J. Chem. Phys. 60 (1974) 1877-1884; Hairer and Wanner II, §IV.10;
/// Mazzia & Magherini, Test Set release 2.4, problem OREGO (§II.9).
public struct Oregonator: ODEModel, Sendable {
    public init() {}

    @inlinable
    public func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let s = p[0], q = p[1], w = p[2]
        du[0] = s * (u[1] - u[0] * u[1] + u[0] - q * u[0] * u[0])
        du[1] = (u[2] - u[1] - u[0] * u[1]) / s
        du[2] = w * (u[0] - u[2])
    }

    public var hasAnalyticJacobian: Bool { true }
    public var isAutonomous: Bool { true }

    @inlinable
    public func jacobian<S: DiffEqScalar>(_ J: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let s = p[0], q = p[1], w = p[2]
        let two: S = 2
        J[0] = s * (1 - u[1] - two * q * u[0]); J[1] = -u[1] / s; J[2] = w
        J[3] = s * (1 - u[0]); J[4] = -(1 + u[0]) / s; J[5] = 0
        J[6] = 0; J[7] = 1 / s; J[8] = -w
    }
}

// MARK: - VDPOL

/// The van der Pol oscillator in the scaled form of Hairer and Wanner (the test set's VDPOL,
/// equation (II.8.3)), `p = [ε]`:
///
/// `y₁′ = y₂`, `y₂′ = ((1 − y₁²)y₂ − y₁)/ε`.
///
/// It is `z″ − μ(1 − z²)z′ + z = 0` in the variables `x = t/μ`, `(y₁, y₂) = (z, μ dz/dt)`, with
/// `ε = 1/μ²`; the test set takes `ε = 10⁻⁶` (μ = 1000) on `x ∈ [0, 2]`.
///
/// References: B. van der Pol, Phil. Mag. 2 (1926) 978-992; Hairer and Wanner II, §IV.10;
/// Mazzia & Magherini, Test Set release 2.4, problem VDPOL (§II.8).
public struct VanDerPol: ODEModel, Sendable {
    public init() {}

    @inlinable
    public func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = u[1]
        du[1] = ((1 - u[0] * u[0]) * u[1] - u[0]) / p[0]
    }

    public var hasAnalyticJacobian: Bool { true }
    public var isAutonomous: Bool { true }

    @inlinable
    public func jacobian<S: DiffEqScalar>(_ J: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let two: S = 2
        J[0] = 0; J[1] = (-two * u[0] * u[1] - 1) / p[0]
        J[2] = 1; J[3] = (1 - u[0] * u[0]) / p[0]
    }
}

// MARK: - VDPOLM

/// The van der Pol oscillator in its original, unscaled form (the test set's VDPOLM),
/// `p = [μ]`:
///
/// `y₁′ = y₂`, `y₂′ = μ(1 − y₁²)y₂ − y₁`.
///
/// It is ``VanDerPol`` before the change of variables `x = t/μ`, `(u₁, u₂) = (y₁, μy₂)`,
/// `ε = 1/μ²`; the test set takes `μ = 1000` on `t ∈ [0, 2000]`, one relaxation period
/// (about `(3 − 2 ln 2)μ ≈ 1614`) and a bit, so a solver meets one fast jump between long
/// slow stretches.
///
/// References: B. van der Pol, Phil. Mag. 2 (1926) 978-992; Hairer and Wanner II, §IV.10;
/// Mazzia & Magherini, Test Set release 2.4, problem VDPOL (§II.8, the unscaled equation; the
/// test set's file vdpolm.f).
public struct UnscaledVanDerPol: ODEModel, Sendable {
    public init() {}

    @inlinable
    public func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = u[1]
        du[1] = p[0] * (1 - u[0] * u[0]) * u[1] - u[0]
    }

    public var hasAnalyticJacobian: Bool { true }
    public var isAutonomous: Bool { true }

    @inlinable
    public func jacobian<S: DiffEqScalar>(_ J: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let two: S = 2
        J[0] = 0; J[1] = -two * p[0] * u[0] * u[1] - 1
        J[2] = 1; J[3] = p[0] * (1 - u[0] * u[0])
    }
}

// MARK: - E5

/// E5 of the stiff DETEST set, a chemical pyrolysis (four species), `p = [A, B, CM, C]`:
///
/// ```
/// y₁′ = −Ay₁ − By₁y₃
/// y₂′ = Ay₁ − CM·y₂y₃
/// y₄′ = By₁y₃ − Cy₄
/// y₃′ = y₂′ − y₄′ = Ay₁ − By₁y₃ − CM·y₂y₃ + Cy₄
/// ```
///
/// `y₃′` is computed as `y₂′ − y₄′`, as the test set's `feval` does, so that the invariant
/// `y₂ − y₃ − y₄ = 0` (exact, from `y(0) = (1.76e-3, 0, 0, 0)`) holds for the right-hand side
/// up to one rounding; the Jacobian's `J₂₁` is likewise `J₃₁ + J₄₁`, so that `wᵀJ = 0`
/// (`w = (0, 1, −1, −1)`) holds exactly in the column where the published `J₂₁ = A` breaks it
/// by a rounding (the comment in ``jacobian(_:_:_:_:)`` says why it matters). Over `[0, 10¹³]` the components span more than 280 orders of magnitude
/// (`y₁(10¹³) ≈ 10⁻²⁹¹`, `y₂ ≈ y₃ ≈ 9·10⁻²³`), so every solver needs an absolute tolerance far
/// below `10⁻²²`: the test set's R port (package deTestSet, `E5()`) defaults to
/// `atol = 1.11e-24`, and this project's tests judge E5 at `abstol = 1e-24`.
///
/// References: W. H. Enright, T. E. Hull and B. Lindberg, Comparing numerical methods for stiff
/// systems of ODEs, BIT 15 (1975) 10-48 (problem E5); Hairer and Wanner II, §IV.10;
/// Mazzia & Magherini, Test Set release 2.4, problem E5 (the test set's file e5.f, revision 1.3,
/// 2006/10/03).
public struct DetestE5: ODEModel, Sendable {
    public init() {}

    @inlinable
    public func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let a = p[0], b = p[1], cm = p[2], c = p[3]
        let prod1 = a * u[0]
        let prod2 = b * u[0] * u[2]
        let prod3 = cm * u[1] * u[2]
        let prod4 = c * u[3]
        du[0] = -prod1 - prod2
        du[1] = prod1 - prod3
        du[3] = prod2 - prod4
        du[2] = du[1] - du[3]
    }

    public var hasAnalyticJacobian: Bool { true }
    public var isAutonomous: Bool { true }

    @inlinable
    public func jacobian<S: DiffEqScalar>(_ J: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let n = 4
        let a = p[0], b = p[1], cm = p[2], c = p[3]
        for k in 0..<(n * n) { J[k] = 0 }
        J[0 + 0 * n] = -a - b * u[2]; J[0 + 2 * n] = -b * u[0]
        J[1 + 0 * n] = a; J[1 + 1 * n] = -cm * u[2]; J[1 + 2 * n] = -cm * u[1]
        J[2 + 0 * n] = a - b * u[2]; J[2 + 1 * n] = -cm * u[2]; J[2 + 2 * n] = -b * u[0] - cm * u[1]
        J[2 + 3 * n] = c
        J[3 + 0 * n] = b * u[2]; J[3 + 2 * n] = b * u[0]; J[3 + 3 * n] = -c
        // J₂₁ as J₃₁ + J₄₁, as y₃′ = y₂′ − y₄′ in `rhs`: with the published J₂₁ = A,
        // J₃₁ = A − B·y₃ rounds away A's low bits, so wᵀJ ≠ 0 for w = (0, 1, −1, −1) by up to
        // ulp(B·y₃)/2 step after step, and a Rosenbrock method using that J leaves the invariant
        // (Rodas4 by 383 tolerances at reltol 1e-4). While B·y₃ ≥ A (t up to about 1e6, where the
        // drift happened) the two terms are within a factor 2 of each other's negative, so the
        // sum is exact (Sterbenz) and the first column keeps wᵀJ = 0 exactly; it differs from A
        // by one rounding of B·y₃. The third column is left as published: the same sum there
        // (J₂₃ = J₃₃ + J₄₃) cancels B·y₁ ≈ 2e4 down to CM·y₂ ≈ 0.2, which costs Float all
        // its digits, and with the first column exact Rodas4 already ends within 1.2 tolerances.
        J[1 + 0 * n] = J[2 + 0 * n] + J[3 + 0 * n]
    }
}

// MARK: - Factories and references

extension TestProblems {
    /// HIRES with the test set's constants `k₁ = 1.71, k₂ = 0.43, k₃ = 8.32, k₄ = 0.69,
    /// k₅ = 0.035, k₆ = 8.32, k₊ = 280, k₋ = 0.69, k* = 0.69, o_ks = 0.0007`,
    /// `y(0) = (1, 0, 0, 0, 0, 0, 0, 0.0057)` on `[0, 321.8122]`.
    public static func hires<S: DiffEqScalar>(_ scalar: S.Type = Double.self)
        -> ODEProblem<GenericRHS<Hires, S>>
    {
        let k: [S] = [1.71, 0.43, 8.32, 0.69, 0.035, 8.32, 280, 0.69, 0.69, 0.0007]
        let u0: [S] = [1, 0, 0, 0, 0, 0, 0, 0.0057]
        return ODEProblem(model: Hires(), u0: u0, tspan: (0, 321.8122), p: k)
    }

    /// The reference solution of HIRES at t = 321.8122.
    public static let hiresReference = ReferenceSolution(
        t: 321.8122,
        u: [
            0.7371312573325668e-3, 0.1442485726316185e-3, 0.5888729740967575e-4, 0.1175651343283149e-2,
            0.2386356198831331e-2, 0.6238968252742796e-2, 0.2849998395185769e-2, 0.2850001604814231e-2,
        ],
        source: "F. Mazzia and C. Magherini, Test Set for Initial Value Problem Solvers, release 2.4 "
            + "(University of Bari, 2008), problem HIRES, Table II.1.1 (computed with RADAU5 on a Cray C90, "
            + "uround = 1.01e-19, rtol = atol = h0 = 1.1e-18); same digits in subroutine solut of hires.f")

    /// Test-set settings of HIRES: `reltol = 10^-(5+m/4)`, `m = 0...28`, `abstol = reltol`,
    /// `h0 = 10⁻² reltol`.
    public static let hiresInfo = TestProblemInfo(
        name: "HIRES", isStiff: true, reltolExponentOffset: 5, reltolSteps: 28, abstolPerReltol: 1,
        initialStepPerReltol: 1e-2,
        source: "Mazzia & Magherini, Test Set for IVP Solvers, release 2.4, problem HIRES, §II.1.4")

    /// OREGO with `s = 77.27`, `q = 8.375e-6`, `w = 0.161`, `y(0) = (1, 2, 3)` on `[0, 360]`.
    public static func orego<S: DiffEqScalar>(_ scalar: S.Type = Double.self)
        -> ODEProblem<GenericRHS<Oregonator, S>>
    {
        ODEProblem(model: Oregonator(), u0: [1, 2, 3], tspan: (0, 360), p: [77.27, 8.375e-6, 0.161])
    }

    /// The reference solution of OREGO at t = 360.
    public static let oregoReference = ReferenceSolution(
        t: 360,
        u: [0.1000814870318523e+1, 0.1228178521549917e+4, 0.1320554942846706e+3],
        source: "F. Mazzia and C. Magherini, Test Set for Initial Value Problem Solvers, release 2.4 "
            + "(University of Bari, 2008), problem OREGO, Table II.9.1 (computed with RADAU on an Alphaserver "
            + "DS20E, uround = 1.01e-19, rtol = h0 = 1.1e-18, atol = 1.1e-40); same digits in subroutine "
            + "solut of orego.f (revision 1.4, 2006/10/06)")

    /// Test-set settings of OREGO: `reltol = 10^-(4+m/4)`, `m = 0...32`, `abstol = reltol`,
    /// `h0 = 10⁻² reltol`.
    public static let oregoInfo = TestProblemInfo(
        name: "OREGO", isStiff: true, reltolExponentOffset: 4, reltolSteps: 32, abstolPerReltol: 1,
        initialStepPerReltol: 1e-2,
        source: "Mazzia & Magherini, Test Set for IVP Solvers, release 2.4, problem OREGO, §II.9.4")

    /// VDPOL (scaled form) with `ε = 1e-6`, `y(0) = (2, 0)` on `[0, 2]`.
    public static func vanDerPol<S: DiffEqScalar>(_ scalar: S.Type = Double.self)
        -> ODEProblem<GenericRHS<VanDerPol, S>>
    {
        ODEProblem(model: VanDerPol(), u0: [2, 0], tspan: (0, 2), p: [1e-6])
    }

    /// The reference solution of VDPOL (`ε = 1e-6`) at t = 2.
    public static let vanDerPolReference = ReferenceSolution(
        t: 2,
        u: [0.1706167732170483e+1, -0.8928097010247975e+0],
        source: "F. Mazzia and C. Magherini, Test Set for Initial Value Problem Solvers, release 2.4 "
            + "(University of Bari, 2008), problem VDPOL, §II.8.4.2 (scaled equation, eps = 1e-6, t in [0, 2]), "
            + "Table II.8.3 (computed with RADAU on an Alphaserver DS20E, uround = 1.01e-19, "
            + "rtol = atol = h0 = 1.1e-18); same digits in subroutine solut of vdpol.f (revision 1.2, 2006/10/02)")

    /// Test-set settings of VDPOL (`ε = 1e-6`): `reltol = 10^-(4+m/4)`, `m = 0...32`,
    /// `abstol = reltol`, `h0 = 10⁻² reltol`.
    public static let vanDerPolInfo = TestProblemInfo(
        name: "VDPOL", isStiff: true, reltolExponentOffset: 4, reltolSteps: 32, abstolPerReltol: 1,
        initialStepPerReltol: 1e-2,
        source: "Mazzia & Magherini, Test Set for IVP Solvers, release 2.4, problem VDPOL, §II.8.4.2")

    /// VDPOLM (unscaled van der Pol) with `μ = 1000`, `y(0) = (2, 0)` on `[0, 2000]`.
    public static func unscaledVanDerPol<S: DiffEqScalar>(_ scalar: S.Type = Double.self)
        -> ODEProblem<GenericRHS<UnscaledVanDerPol, S>>
    {
        ODEProblem(model: UnscaledVanDerPol(), u0: [2, 0], tspan: (0, 2000), p: [1000])
    }

    /// The reference solution of VDPOLM (`μ = 1000`) at t = 2000. It is the scaled VDPOL's
    /// ``vanDerPolReference`` in the other variables (`y₂ = u₂/μ`) from an independent run: the
    /// two agree to 1.4e-14 in `y₁` and 1.5e-17 in `y₂`.
    public static let unscaledVanDerPolReference = ReferenceSolution(
        t: 2000,
        u: [0.1706167732170469e+1, -0.8928097010248125e-3],
        source: "F. Mazzia and C. Magherini, Test Set for Initial Value Problem Solvers, release 2.4 "
            + "(University of Bari, 2008), problem VDPOL, unscaled equation (mu = 1000, t in [0, 2000]): "
            + "subroutine solut of vdpolm.f (revision 1.2, 2006/10/02; computed with RADAU on an Alphaserver "
            + "DS20E, uround = 1.01e-19, rtol = atol = h0 = 1.1e-18)")

    /// E5 with the test set's constants `A = 7.89e-10`, `B = 1.1e7`, `CM = 1.13e9`, `C = 1.13e3`,
    /// `y(0) = (1.76e-3, 0, 0, 0)` on `[0, 1e13]`.
    public static func detestE5<S: DiffEqScalar>(_ scalar: S.Type = Double.self)
        -> ODEProblem<GenericRHS<DetestE5, S>>
    {
        let k: [S] = [7.89e-10, 1.1e7, 1.13e9, 1.13e3]
        return ODEProblem(model: DetestE5(), u0: [1.76e-3, 0, 0, 0], tspan: (0, 1e13), p: k)
    }

    /// The reference solution of E5 at t = 1e13.
    ///
    /// Its `y₂` and `y₃` differ by 1.28e-25 while the exact solution has `y₂ − y₃ = y₄ ≈ 0`
    /// there (`y₄` relaxes at rate `C` to `By₁y₃/C ≈ 10⁻³⁰⁹`): the published run drifted off the
    /// invariant by that much, so each of the two carries an error of at least 6.4e-26 (0.07 %),
    /// 0.064 of the absolute tolerance 1e-24 tests judge E5 at. `y₂ + y₃ = 1.77225e-22` agrees
    /// with SciPy's Radau and LSODA at `rtol = 1e-12`, `atol = 1e-40` to 1.4e-7 (relative).
    public static let detestE5Reference = ReferenceSolution(
        t: 1e13,
        u: [0.1152903278711829e-290, 0.8867655517642120e-22, 0.8854814626268838e-22, 0],
        source: "F. Mazzia and C. Magherini, Test Set for Initial Value Problem Solvers, release 2.4 "
            + "(University of Bari, 2008), problem E5: subroutine solut of e5.f (revision 1.3, 2006/10/03; "
            + "computed with RADAU on an Alphaserver DS20E, uround = 1.01e-19, rtol = h0 = 1.1e-18, "
            + "atol = 1.1e-40)")

    /// Settings for VDPOLM: the scaled VDPOL's sweep (`reltol = 10^-(4+m/4)`, `m = 0...32`,
    /// `abstol = reltol`, `h0 = 10⁻² reltol`), carried over because the report describes the two
    /// forms as one problem (§II.8) and publishes a sweep only for the scaled one.
    public static let unscaledVanDerPolInfo = TestProblemInfo(
        name: "VDPOLM", isStiff: true, reltolExponentOffset: 4, reltolSteps: 32, abstolPerReltol: 1,
        initialStepPerReltol: 1e-2,
        source: "Mazzia & Magherini, Test Set for IVP Solvers, release 2.4, problem VDPOL, §II.8.4 (the scaled "
            + "equation's sweep, used for the unscaled vdpolm.f)")

    /// Settings for E5: `reltol = 10^-(4+m/4)`, `m = 0...24` (1e-4 ... 1e-10), with the absolute
    /// tolerance fixed at 1e-24. The report publishes no sweep for E5; the test set's R port
    /// (package deTestSet, function `E5()`) runs it with `atol = 1.11e-24`, and with `y₂, y₃`
    /// ending near 9e-23 an abstol proportional to `reltol` would not ask for a single digit.
    public static let detestE5Info = TestProblemInfo(
        name: "E5", isStiff: true, reltolExponentOffset: 4, reltolSteps: 24, abstolPerReltol: 0,
        initialStepPerReltol: 1e-2, fixedAbstol: 1e-24,
        source: "this library's sweep; abstol after the test set's R port (K. Soetaert, J. Cash, F. Mazzia, "
            + "deTestSet, function E5(), default atol = 1.11e-24)")

    /// Test-set settings of ROBER: `reltol = 10^-(4+m/4)`, `m = 0...32`, `abstol = 10⁻⁴ reltol`,
    /// `h0 = 10⁻² reltol`.
    public static let roberInfo = TestProblemInfo(
        name: "ROBER", isStiff: true, reltolExponentOffset: 4, reltolSteps: 32, abstolPerReltol: 1e-4,
        initialStepPerReltol: 1e-2,
        source: "Mazzia & Magherini, Test Set for IVP Solvers, release 2.4, problem ROBER, §II.10.4")
}
