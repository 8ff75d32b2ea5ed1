import DiffEqCore

/// What became of one trajectory that produced an output: its index, how many solves it took
/// (1 + the reruns its output function asked for) and the return code and message of the last.
/// A failed solve (`retcode` not successful) is kept: the output function saw its partial
/// solution and decided what to keep, and the ensemble went on.
public struct TrajectoryRecord: Sendable, Hashable {
    public var index: Int
    public var attempts: Int
    public var retcode: ReturnCode
    public var message: String?

    public init(index: Int, attempts: Int, retcode: ReturnCode, message: String?) {
        self.index = index
        self.attempts = attempts
        self.retcode = retcode
        self.message = message
    }
}

/// A trajectory that could not produce an output at all: its problem function or output
/// function threw, its solve threw (invalid input), or it asked for more reruns than allowed.
public struct TrajectoryFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Stage: String, Sendable, Hashable {
        case problemFunction, solve, outputFunction, rerunLimit
    }
    public var index: Int
    public var `repeat`: Int
    public var stage: Stage
    /// The thrown error's description (a string, so that it crosses process boundaries).
    public var message: String

    public init(index: Int, repeat attempt: Int, stage: Stage, message: String) {
        self.index = index
        self.repeat = attempt
        self.stage = stage
        self.message = message
    }

    public var description: String {
        switch stage {
        case .problemFunction: return "trajectory \(index) (repeat \(self.repeat)): probFunc threw: \(message)"
        case .solve: return "trajectory \(index) (repeat \(self.repeat)): the solve threw: \(message)"
        case .outputFunction: return "trajectory \(index) (repeat \(self.repeat)): outputFunc threw: \(message)"
        case .rerunLimit: return "trajectory \(index): \(message)"
        }
    }
}

/// One trajectory's result as the back ends hand it over: an output with its record, or a failure.
public enum TrajectoryOutcome<Output: Sendable>: Sendable {
    case finished(TrajectoryRecord, Output)
    case failed(TrajectoryFailure)
}

/// Why an ensemble stopped without a result.
public enum EnsembleError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A setting is out of range (`trajectories < 0`, `batchSize < 1`, `maxReruns < 0`, a
    /// thread count below 1); nothing was run.
    case invalidArgument(String)
    /// A trajectory could not produce an output (the one of lowest index in the first batch
    /// where any failed, so the same on every back end). Trajectories whose solve merely
    /// failed are not errors: see ``EnsembleSolution/failedTrajectories``.
    case trajectoryFailed(TrajectoryFailure)

    public var description: String {
        switch self {
        case .invalidArgument(let why): return "invalid ensemble setting: \(why)"
        case .trajectoryFailed(let f): return "ensemble stopped: \(f)"
        }
    }
}

/// An ensemble's result: the reduction's value, what happened to each trajectory that ran, and
/// whether the reduction stopped it early.
public struct EnsembleSolution<Reduced: Sendable>: Sendable {
    /// The reduction's value (with the default reduction, every output in trajectory order).
    public var u: Reduced
    /// Every trajectory that ran, in trajectory order.
    public var trajectories: [TrajectoryRecord]
    /// `true` when the reduction asked to stop after a batch before all trajectories ran.
    public var converged: Bool
    /// The number of trajectories asked for.
    public var requested: Int

    public init(u: Reduced, trajectories: [TrajectoryRecord], converged: Bool, requested: Int) {
        self.u = u
        self.trajectories = trajectories
        self.converged = converged
        self.requested = requested
    }

    /// The trajectories whose last solve did not succeed (their outputs are in `u` as the
    /// output function made them).
    public var failedTrajectories: [TrajectoryRecord] { trajectories.filter { !$0.retcode.isSuccessful } }

    /// `true` when every trajectory that ran succeeded.
    public var allSucceeded: Bool { trajectories.allSatisfy { $0.retcode.isSuccessful } }
}
