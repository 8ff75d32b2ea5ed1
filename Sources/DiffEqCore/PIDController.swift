/// Söderlind's digital-filter step-size controller (PID): after an accepted step,
///
///     dt_new = dt · limit(safety · err_n^(−β1/k) · err_{n−1}^(−β2/k) · err_{n−2}^(−β3/k))
///
/// with `err_n` the scaled error of the step just taken, `err_{n−1}`, `err_{n−2}` those of the
/// two accepted steps before it, and `k = min(p, p̂) + 1` for a method of order `p` with an
/// embedded estimate of order `p̂`. G. Söderlind, "Digital filters in adaptive time-stepping",
/// ACM TOMS 29 (2003) 1-26; G. Söderlind & L. Wang, "Adaptive time-stepping and computational
/// stability", J. Comput. Appl. Math. 185 (2006) 225-243 (the limiter, §6).
///
/// The gains `β1, β2, β3` are per unit order, in the convention of OrdinaryDiffEq.jl's
/// `PIDController(beta1, beta2, beta3)` (its documentation lists the sets below as "suggested in
/// the literature"), so one set serves methods of every order. In Söderlind's notation
/// (proportional, integral, derivative gains `kP, kI, kD`, each times `k`), `β1 = kI + kP + kD`,
/// `β2 = −(kP + 2 kD)`, `β3 = kD`, which is how diffrax's `PIDController(pcoeff, icoeff,
/// dcoeff)` takes them.
///
/// Differences from OrdinaryDiffEq's controller, so that a PID with `β3 = 0` is the PI controller
/// exactly (``PIController`` with `beta1 = β1/k`, `beta2 = −β2/k`, the same safety and bounds
/// gives the same steps, bit for bit): the error history is the integrators' own
/// (``ControllerHistory``: errors floored at 1e-4 and a fresh start remembering 1e-4, where
/// OrdinaryDiffEq starts from 1 and floors at machine epsilon); a step is accepted when
/// `err ≤ 1`, as with every controller here (OrdinaryDiffEq accepts when the limited factor is
/// at least `accept_safety = 0.81`); and a rejected attempt is retried with the factor of the
/// current error alone, `limit(safety · err^(−β1/k))` (HNW II §IV.2: after a rejection the
/// history describes a step that did not happen).
public struct PIDController: StepSizeController, Equatable {
    /// Gains per unit order (see the type's description).
    public var beta1: Double
    public var beta2: Double
    public var beta3: Double
    /// Safety factor, in (0, 1].
    public var safety: Double
    /// How the raw factor is bounded.
    public var limiter: StepFactorLimiter

    /// A controller with gains `β1, β2, β3` per unit order, bounded by Söderlind & Wang's
    /// arctangent limiter by default (`.clamp(qmin: 0.2, qmax: 10)` bounds as the PI controllers
    /// here). The safety factor 0.9 (Söderlind & Wang use none) stands in for OrdinaryDiffEq's
    /// `accept_safety`: steps here are accepted when `err ≤ 1`, so a controller aiming at
    /// `err = 1` exactly would see about every other step rejected.
    public init(beta1: Double, beta2: Double, beta3: Double = 0, safety: Double = 0.9, limiter: StepFactorLimiter = .arctangent) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.beta3 = beta3
        self.safety = safety
        self.limiter = limiter
    }

    /// A controller from Söderlind's proportional, integral and derivative gains per unit order,
    /// as diffrax's `PIDController(pcoeff, icoeff, dcoeff)`: `β1 = kP + kI + kD`,
    /// `β2 = −(kP + 2 kD)`, `β3 = kD` (so `pcoeff: 0.4, icoeff: 0.3` is PI34 up to rounding).
    public init(pcoeff: Double, icoeff: Double, dcoeff: Double = 0, safety: Double = 0.9,
                limiter: StepFactorLimiter = .arctangent) {
        self.init(
            beta1: pcoeff + icoeff + dcoeff, beta2: -(pcoeff + 2 * dcoeff), beta3: dcoeff, safety: safety,
            limiter: limiter)
    }

    // Coefficient sets, (β1, β2, β3) per unit order, from Söderlind (2003), Table III, as listed
    // in OrdinaryDiffEq.jl's `PIDController` documentation (OrdinaryDiffEqCore, controllers).

    /// H211PI: (1/6, 1/6, 0); a smoothing PI filter for medium to non-smooth problems.
    public static let h211PI = PIDController(beta1: 1.0 / 6, beta2: 1.0 / 6)
    /// H312PID: (1/18, 1/9, 1/18); a smoothing PID filter for non-smooth problems.
    public static let h312PID = PIDController(beta1: 1.0 / 18, beta2: 1.0 / 9, beta3: 1.0 / 18)
    /// PI42: (0.6, −0.2, 0) (Söderlind 2003; Söderlind & Wang 2006).
    public static let pi42 = PIDController(beta1: 0.6, beta2: -0.2)
    /// PI33: (2/3, −1/3, 0).
    public static let pi33 = PIDController(beta1: 2.0 / 3, beta2: -1.0 / 3)
    /// PI34: (0.7, −0.4, 0), Gustafsson's gains: with `safety: 0.9, limiter: .clamp(qmin: 0.2,
    /// qmax: 10)` it is ``PIController/standard(order:)``.
    public static let pi34 = PIDController(beta1: 0.7, beta2: -0.4)
    /// Basic: (1, 0, 0), the elementary controller with the smooth limiter.
    public static let basic = PIDController(beta1: 1, beta2: 0)

    @inlinable
    public func acceptedFactor(err: Double, logErr: Double, history: ControllerHistory, order: Int) -> Double {
        let k = Double(order)
        // err_n^(β1/k) · err_{n−1}^(β2/k) · err_{n−2}^(β3/k) as one exp of the logs the loop
        // keeps; written as a sum of the three terms so that β3 = 0 and β2 = −0.4 give the PI
        // controller's `β1·log err − β2'·log errPrev` to the last bit (x + (−y) == x − y).
        let q = Double.exp(
            (beta1 / k) * logErr + (beta2 / k) * history.logErrPrev + (beta3 / k) * history.logErrPrevPrev)
        return limiter.limit(safety / q)
    }

    @inlinable
    public func rejectedFactor(err: Double, order: Int) -> Double {
        limiter.limitRejected(safety / Double.pow(err, beta1 / Double(order)))
    }

    @inlinable public var minimumFactor: Double { limiter.minimum }

    public func validate() throws(DiffEqError) {
        if let why = firstNonFinite(["beta1": beta1, "beta2": beta2, "beta3": beta3]) { throw .invalidController(why) }
        guard beta1 > 0 else {
            throw .invalidController("beta1 must be > 0 (the step must shrink when the error grows), got \(beta1)")
        }
        switch limiter {
        case .arctangent: try checkSafety(safety)
        case .clamp(let qmin, let qmax): try checkBounds(safety: safety, qmin: qmin, qmax: qmax)
        }
    }
}

/// How a PID controller bounds its raw factor `x` (> 0).
public enum StepFactorLimiter: Sendable, Equatable {
    /// `1 + atan(x − 1)`: smooth, close to `x` near 1, and between `1 − π/4 ≈ 0.215` (at
    /// `x = 0`) and `1 + π/2 ≈ 2.57` (Söderlind & Wang 2006, §6), after accepted and rejected
    /// steps alike.
    case arctangent
    /// `min(qmax, max(qmin, x))` after an accepted step and `max(qmin, x)` after a rejection,
    /// as the PI controller (`0 < qmin ≤ 1 ≤ qmax`).
    case clamp(qmin: Double, qmax: Double)

    @inlinable @inline(__always)
    func limit(_ x: Double) -> Double {
        switch self {
        case .arctangent: return 1 + Double.atan(x - 1)
        case .clamp(let qmin, let qmax): return Swift.min(qmax, Swift.max(qmin, x))
        }
    }

    @inlinable @inline(__always)
    func limitRejected(_ x: Double) -> Double {
        switch self {
        case .arctangent: return 1 + Double.atan(x - 1)
        case .clamp(let qmin, _): return Swift.max(qmin, x)
        }
    }

    /// The smallest factor the limiter gives.
    @inlinable var minimum: Double {
        switch self {
        case .arctangent: return 1 - Double.pi / 4
        case .clamp(let qmin, _): return qmin
        }
    }
}
