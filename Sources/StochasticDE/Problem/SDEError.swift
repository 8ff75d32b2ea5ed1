import DiffEqCore

/// Why an SDE problem, a noise process or a method's setup was refused, before any work.
public enum SDEError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The initial state is empty.
    case emptyState
    /// A component of `u0` is NaN or infinite.
    case nonFiniteInitialState(component: Int)
    /// The time span has a non-finite end or zero length.
    case invalidTimeSpan(t0: Double, t1: Double)
    /// `general(wienerProcesses:)` with fewer than one process.
    case invalidWienerCount(Int)
    /// The drift or the diffusion wrote an output of the wrong length (it changed the length of
    /// the array it was given).
    case wrongOutputLength(what: String, expected: Int, got: Int)
    /// The diffusion at `(u0, p, t0)` is NaN or infinite (component index into its output).
    case nonFiniteDiffusion(component: Int)
    /// The drift at `(u0, p, t0)` is NaN or infinite.
    case nonFiniteDrift(component: Int)
    /// The method cannot integrate this noise kind (with the reason).
    case unsupportedNoise(method: String, noise: String, why: String)
    /// The problem is declared additive but its diffusion changed with `u`.
    case diffusionNotAdditive(component: Int)
    /// A noise process does not match the problem (dimension, missing auxiliary process, span).
    case noiseMismatch(String)
    /// A user-built tableau is malformed or fails an order condition (with which).
    case invalidTableau(String)
    /// The solve options were refused by the shared checks (`SolveSetup`), or the time span runs
    /// backward (the noise processes run forward in time).
    case invalidOptions(DiffEqError)

    public var description: String {
        switch self {
        case .emptyState: return "the initial state is empty"
        case .nonFiniteInitialState(let i): return "u0[\(i)] is not finite"
        case .invalidTimeSpan(let t0, let t1):
            return "time span (\(t0), \(t1)) must have finite ends and non-zero length"
        case .invalidWienerCount(let m): return "general noise needs at least one Wiener process, got \(m)"
        case .wrongOutputLength(let what, let expected, let got):
            return "\(what) wrote \(got) values, expected \(expected) (do not resize the output array)"
        case .nonFiniteDiffusion(let i): return "the diffusion at the initial point is not finite (component \(i))"
        case .nonFiniteDrift(let i): return "the drift at the initial point is not finite (component \(i))"
        case .unsupportedNoise(let method, let noise, let why): return "\(method) does not support \(noise) noise: \(why)"
        case .diffusionNotAdditive(let i):
            return "noise declared additive, but diffusion component \(i) changed when u changed"
        case .noiseMismatch(let why): return "noise process does not match the problem: \(why)"
        case .invalidTableau(let why): return "invalid tableau: \(why)"
        case .invalidOptions(let why): return "invalid solve options: \(why)"
        }
    }
}

/// Why a noise process refused a request. Thrown before any state changes.
public enum NoiseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The requested time is before the current time, not finite, or outside the process's span.
    case timeOutOfRange(requested: Double, allowed: ClosedRange<Double>)
    /// `accept()` without a pending increment.
    case nothingToAccept
    /// An output array has the wrong length.
    case wrongLength(what: String, expected: Int, got: Int)
    /// A constructor argument is invalid (with the reason).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .timeOutOfRange(let t, let range): return "time \(t) is outside \(range)"
        case .nothingToAccept: return "accept() needs a pending increment(to:) first"
        case .wrongLength(let what, let expected, let got): return "\(what) has \(got) elements, expected \(expected)"
        case .invalidArgument(let why): return why
        }
    }
}
