/// The elementary (integral) step-size controller: `dt_new = dt · min(qmax, max(qmin,
/// safety · err^(−1/k)))`, with `k = min(p, p̂) + 1` for a method of order `p` with an embedded
/// estimate of order `p̂`. Hairer, Nørsett & Wanner, Solving ODEs I, §II.4, "Automatic step size
/// control", eq. (4.13) (their `fac`, `facmin`, `facmax` are `safety`, `qmin`, `qmax`).
///
/// It reads no history: each factor depends on the last error only, which makes it the simplest
/// controller to reason about, and on problems where the step is limited by stability rather
/// than accuracy it tends to oscillate between accepted and rejected steps (HNW II §IV.2), which
/// is what the PI and PID controllers damp.
public struct IController: StepSizeController, Equatable {
    /// Safety factor (`fac` in HNW), in (0, 1].
    public var safety: Double
    /// Smallest and largest factor by which one step may change the step size
    /// (`0 < qmin ≤ 1 ≤ qmax`).
    public var qmin: Double
    public var qmax: Double

    /// The defaults are HNW's suggestions for DOPRI5 (Solving ODEs I, §II.4 and the code's
    /// `fac = 0.9`; `facmin = 0.2`, `facmax = 10` as `qmin`, `qmax`).
    public init(safety: Double = 0.9, qmin: Double = 0.2, qmax: Double = 10) {
        self.safety = safety
        self.qmin = qmin
        self.qmax = qmax
    }

    @inlinable
    public func acceptedFactor(err: Double, logErr: Double, history: ControllerHistory, order k: Int) -> Double {
        // err^(-1/k) as one exp of the log the loop already took.
        let q = Double.exp(logErr / Double(k))
        return Swift.min(qmax, Swift.max(qmin, safety / q))
    }

    @inlinable
    public func rejectedFactor(err: Double, order k: Int) -> Double {
        Swift.max(qmin, safety / Double.pow(err, 1 / Double(k)))
    }

    @inlinable public var minimumFactor: Double { qmin }

    public func validate() throws(DiffEqError) {
        try checkBounds(safety: safety, qmin: qmin, qmax: qmax)
    }
}
