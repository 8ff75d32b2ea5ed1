/// Work counters, the same for every algorithm so that cross-checks and benchmarks compare like
/// with like (DESIGN.md §9).
public struct SolverStats: Sendable, Equatable, CustomStringConvertible {
    /// Right-hand-side evaluations (including those spent on difference-quotient Jacobians
    /// and on the initial step size).
    public var nf = 0
    /// Jacobian evaluations (analytic, automatic or by differences); the next two count the
    /// kinds, the rest were analytic.
    public var njacs = 0
    /// Jacobians computed by forward-mode automatic differentiation.
    public var njacsAD = 0
    /// Jacobians computed by finite differences (their f evaluations are in `nf`).
    public var njacsFiniteDifference = 0
    /// LU factorizations of an iteration matrix.
    public var nluFactorizations = 0
    /// Linear solves with a factored iteration matrix.
    public var nlinsolves = 0
    /// Accepted steps.
    public var naccept = 0
    /// Rejected steps (error test or convergence failures).
    public var nreject = 0
    /// Nonlinear (Newton) iterations.
    public var nnonliniter = 0
    /// Nonlinear convergence failures.
    public var nnonlinconvfail = 0

    public init() {}

    /// Adds the counters of `other` (the work of several solves in one record).
    public mutating func add(_ other: SolverStats) {
        nf += other.nf
        njacs += other.njacs
        njacsAD += other.njacsAD
        njacsFiniteDifference += other.njacsFiniteDifference
        nluFactorizations += other.nluFactorizations
        nlinsolves += other.nlinsolves
        naccept += other.naccept
        nreject += other.nreject
        nnonliniter += other.nnonliniter
        nnonlinconvfail += other.nnonlinconvfail
    }

    public var description: String {
        "nf=\(nf) njacs=\(njacs) (AD \(njacsAD), FD \(njacsFiniteDifference)) nLU=\(nluFactorizations) nlinsolves=\(nlinsolves) "
            + "naccept=\(naccept) nreject=\(nreject) nnonliniter=\(nnonliniter) "
            + "nnonlinconvfail=\(nnonlinconvfail)"
    }
}

/// A continuous representation of a solution between its first and last step. `Sendable`, so
/// that a solution can be handed to another task with its interpolant: an implementation holds
/// the data of the steps as values.
public protocol DenseOutput<Scalar>: Sendable {
    associatedtype Scalar: DiffEqScalar
    /// The closed interval covered, as `(min, max)`.
    var domain: (Double, Double) { get }
    /// The number of state components it returns (the length `out` must have): a solution
    /// whose saved points do not include any state (a failure before the first `saveat` time)
    /// sizes its output from this, not from its saved states.
    var stateCount: Int { get }
    /// Writes the interpolated state at `t` (inside ``domain``) into `out`.
    func evaluate(at t: Double, into out: inout [Scalar])
    /// Writes the time derivative of the interpolant at `t` (inside ``domain``) into `out`.
    func derivative(at t: Double, into out: inout [Scalar])
    /// The local order `q` of the interpolant (error `O(h^(q+1))` inside a step), the highest
    /// over the steps when it varies; `nil` when unknown.
    var order: Int? { get }
    /// The same dense output as the library's ``PiecewisePolynomial``, when it is one (every
    /// solver of the library gives one): code that evaluates it often (the adjoint methods, at
    /// every backward stage) takes this to get evaluation specialised for its scalar, as
    /// `withContiguousStorageIfAvailable` offers contiguous storage. Defaults to `nil`.
    var piecewisePolynomial: PiecewisePolynomial<Scalar>? { get }
}

extension DenseOutput {
    public var order: Int? { nil }
    public var piecewisePolynomial: PiecewisePolynomial<Scalar>? { nil }
}

/// Errors from evaluating a solution between its saved points.
public enum InterpolationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The solution was computed without dense output (`dense: false` or `saveat` given), or
    /// the solve stopped before its first step.
    case noDenseOutput
    /// The time lies outside what was computed.
    case outOfDomain(t: Double, domain: ClosedRange<Double>)
    /// The output buffer does not have the state's length.
    case lengthMismatch(expected: Int, got: Int)

    public var description: String {
        switch self {
        case .noDenseOutput:
            return "the solution has no dense output: solve with dense: true (and no saveat); a solve that "
                + "stopped before its first step has none either"
        case .outOfDomain(let t, let d):
            return "t = \(t) is outside the computed interval \(d)"
        case .lengthMismatch(let expected, let got):
            return "the output has \(got) components; the state has \(expected)"
        }
    }
}

/// The result of a solve: saved times and states, the interpolant, statistics and the return
/// code. A failed solve keeps everything computed up to the failure.
public struct ODESolution<Scalar: DiffEqScalar>: Sendable {
    /// Saved times, in the direction of integration.
    public internal(set) var t: [Double]
    /// Saved states, `u[i]` at `t[i]`.
    public internal(set) var u: [[Scalar]]
    /// Why the solve stopped.
    public var retcode: ReturnCode
    /// The integrator's own explanation when `retcode` is not a success (for CVODE, the text
    /// SUNDIALS reported).
    public var message: String?
    /// Work counters.
    public var stats: SolverStats
    /// The algorithm that produced this solution.
    public let algorithm: String
    /// The continuous solution, when the algorithm and options provide one.
    public let denseOutput: (any DenseOutput<Scalar>)?
    /// The estimated global error at the saved points, in tolerances (`max_i |e_i| / (abstol_i +
    /// reltol·|u_i|)`), when the algorithm estimates it (``GlobalErrorControl``); `nil` otherwise.
    public var globalErrorEstimate: Double?

    public init(
        t: [Double], u: [[Scalar]], retcode: ReturnCode, message: String? = nil,
        stats: SolverStats, algorithm: String, denseOutput: (any DenseOutput<Scalar>)? = nil
    ) {
        self.t = t
        self.u = u
        self.retcode = retcode
        self.message = message
        self.stats = stats
        self.algorithm = algorithm
        self.denseOutput = denseOutput
    }

    /// The state at time `t`, from the dense output. A time outside what was integrated (past
    /// the point where a failed solve stopped, or NaN) throws
    /// ``InterpolationError/outOfDomain(t:domain:)``, whatever the method.
    public func callAsFunction(_ time: Double) throws(InterpolationError) -> [Scalar] {
        let dense = try checkedDenseOutput(at: time)
        var out = [Scalar](repeating: .zero, count: dense.stateCount)
        dense.evaluate(at: time, into: &out)
        return out
    }

    /// `du/dt` at time `t`, the derivative of the dense output (of the step starting at `t` when
    /// `t` is a step's end). Throws as ``callAsFunction(_:)``.
    public func derivative(_ time: Double) throws(InterpolationError) -> [Scalar] {
        let dense = try checkedDenseOutput(at: time)
        var out = [Scalar](repeating: .zero, count: dense.stateCount)
        dense.derivative(at: time, into: &out)
        return out
    }

    /// The dense output, once `time` is known to lie in what it covers: the checks of
    /// ``callAsFunction(_:)`` and ``derivative(_:)``.
    private func checkedDenseOutput(at time: Double) throws(InterpolationError) -> any DenseOutput<Scalar> {
        guard let dense = denseOutput else { throw .noDenseOutput }
        let (lo, hi) = dense.domain
        // An empty interpolant reports an empty domain (lo > hi), which no range can hold.
        guard lo <= hi else { throw .noDenseOutput }
        guard time >= lo && time <= hi else { throw .outOfDomain(t: time, domain: lo...hi) }
        return dense
    }

    /// Component `i` of the state at time `t`.
    public func callAsFunction(_ time: Double, component i: Int) throws(InterpolationError) -> Scalar {
        try self(time)[i]
    }
}

/// Piecewise cubic Hermite interpolation through saved states and derivatives, for integrators
/// that expose only `u` and `du/dt` at their steps (the library's own solvers give a
/// ``PiecewisePolynomial``, which ``PiecewisePolynomial/appendHermite(from:to:step:u0:u1:f0:f1:)``
/// can fill with the same data).
public struct HermiteDenseOutput<Scalar: DiffEqScalar>: DenseOutput {
    public let times: [Double]
    public let states: [[Scalar]]
    public let derivatives: [[Scalar]]

    public init(times: [Double], states: [[Scalar]], derivatives: [[Scalar]]) {
        precondition(times.count == states.count && times.count == derivatives.count)
        self.times = times
        self.states = states
        self.derivatives = derivatives
    }

    public var domain: (Double, Double) {
        guard let a = times.first, let b = times.last else { return (0, -1) }
        return (Swift.min(a, b), Swift.max(a, b))
    }

    public var stateCount: Int { states.first?.count ?? 0 }

    public var order: Int? { 3 }

    @inlinable
    public func derivative(at t: Double, into out: inout [Scalar]) {
        let i = intervalIndex(times, t)
        let h = times[i + 1] - times[i]
        let s = (t - times[i]) / h
        // Derivatives of the cubic Hermite basis, over h for d/dt.
        let d00 = 6 * s * (s - 1) / h
        let d10 = (1 - s) * (1 - 3 * s)
        let d01 = -d00
        let d11 = s * (3 * s - 2)
        let (u0, u1, f0, f1) = (states[i], states[i + 1], derivatives[i], derivatives[i + 1])
        for k in out.indices {
            out[k] = u0[k].scaled(by: d00) + f0[k].scaled(by: d10) + u1[k].scaled(by: d01) + f1[k].scaled(by: d11)
        }
    }

    @inlinable
    public func evaluate(at t: Double, into out: inout [Scalar]) {
        let i = intervalIndex(times, t)
        let h = times[i + 1] - times[i]
        let s = (t - times[i]) / h
        // Cubic Hermite basis on [0, 1].
        let h00 = (1 + 2 * s) * (1 - s) * (1 - s)
        let h10 = s * (1 - s) * (1 - s)
        let h01 = s * s * (3 - 2 * s)
        let h11 = s * s * (s - 1)
        let (u0, u1, d0, d1) = (states[i], states[i + 1], derivatives[i], derivatives[i + 1])
        for k in out.indices {
            out[k] = u0[k].scaled(by: h00) + d0[k].scaled(by: h10 * h) + u1[k].scaled(by: h01)
                + d1[k].scaled(by: h11 * h)
        }
    }
}

/// Index `i` with `t` in the interval between `times[i]` and `times[i+1]` (times monotone in
/// either direction, at least two of them).
@inlinable
public func intervalIndex(_ times: [Double], _ t: Double) -> Int {
    let n = times.count
    if n < 2 { return 0 }
    let forward = times[n - 1] >= times[0]
    var lo = 0
    var hi = n - 1
    while hi - lo > 1 {
        let mid = (lo + hi) / 2
        if (times[mid] <= t) == forward { lo = mid } else { hi = mid }
    }
    // Skip zero-length intervals (a saved point repeated at a tstop or event).
    while lo < n - 2 && times[lo + 1] == times[lo] { lo += 1 }
    return Swift.min(lo, n - 2)
}
