import DiffEqCore

// The part every back end shares: one trajectory from problem to output (with reruns), and the
// loop over batches that folds outputs in trajectory order. A back end only decides where each
// trajectory of a batch runs; it hands the outcomes back in trajectory order, so the fold, the
// early exit and the error reported are the same on every back end.

/// Runs one trajectory: `safetyCopy`, `probFunc`, the solve, `outputFunc`, and reruns.
public struct TrajectoryRunner<Problem: Sendable, Solution: TrajectorySolution, Output: Sendable>: Sendable {
    public let prob: Problem
    public let probFunc: @Sendable (Problem, TrajectoryContext) throws -> Problem
    public let outputFunc: @Sendable (Solution, TrajectoryContext) throws -> TrajectoryOutput<Output>
    public let safetyCopy: (@Sendable (Problem) -> Problem)?
    public let solver: @Sendable (Problem) throws -> Solution
    public let seed: UInt64
    public let maxReruns: Int

    public init<Reduced>(
        _ ensemble: EnsembleProblem<Problem, Solution, Output, Reduced>, maxReruns: Int,
        solver: @escaping @Sendable (Problem) throws -> Solution
    ) {
        prob = ensemble.prob
        probFunc = ensemble.probFunc
        outputFunc = ensemble.outputFunc
        safetyCopy = ensemble.safetyCopy
        self.solver = solver
        seed = ensemble.seed
        self.maxReruns = maxReruns
    }

    public func run(_ index: Int) -> TrajectoryOutcome<Output> {
        for attempt in 0...maxReruns {
            let context = TrajectoryContext(index: index, repeat: attempt, ensembleSeed: seed)
            let base = safetyCopy.map { $0(prob) } ?? prob
            let problem: Problem
            do { problem = try probFunc(base, context) } catch {
                return .failed(TrajectoryFailure(index: index, repeat: attempt, stage: .problemFunction, message: "\(error)"))
            }
            let solution: Solution
            do { solution = try solver(problem) } catch {
                return .failed(TrajectoryFailure(index: index, repeat: attempt, stage: .solve, message: "\(error)"))
            }
            let kept: TrajectoryOutput<Output>
            do { kept = try outputFunc(solution, context) } catch {
                return .failed(TrajectoryFailure(index: index, repeat: attempt, stage: .outputFunction, message: "\(error)"))
            }
            if case .keep(let output) = kept {
                let record = TrajectoryRecord(index: index, attempts: attempt + 1, retcode: solution.retcode, message: solution.message)
                return .finished(record, output)
            }
        }
        return .failed(
            TrajectoryFailure(
                index: index, repeat: maxReruns, stage: .rerunLimit,
                message: "outputFunc asked for a rerun \(maxReruns + 1) times (maxReruns: \(maxReruns))"))
    }
}

/// What the process that folded a batch decided, and what every process must agree on before
/// the next batch (an MPI back end broadcasts it from the rank that folds).
public enum BatchDecision: Sendable, Equatable {
    case proceed
    case stop
    case fail(TrajectoryFailure)
}

/// Checks the settings shared by every back end, before any work.
public func validateEnsembleSettings(trajectories: Int, batchSize: Int?, maxReruns: Int) throws(EnsembleError) {
    guard trajectories >= 0 else { throw .invalidArgument("trajectories must be >= 0, got \(trajectories)") }
    if let batchSize, batchSize < 1 { throw .invalidArgument("batchSize must be >= 1, got \(batchSize)") }
    guard maxReruns >= 0 else { throw .invalidArgument("maxReruns must be >= 0, got \(maxReruns)") }
}

/// The batch loop. `execute(range)` returns the outcomes of trajectories `range` in trajectory
/// order, or `nil` on a process that does not fold (an MPI rank other than the root);
/// `agree(decision)` makes every process take the folding process's decision. Returns `nil` on
/// a process that does not hold the result.
public func runEnsembleBatches<Output: Sendable, Reduced: Sendable, E: Error>(
    trajectories: Int, batchSize: Int?, reduction: EnsembleReduction<Output, Reduced>,
    execute: (Range<Int>) throws(E) -> [TrajectoryOutcome<Output>]?,
    agree: (BatchDecision) throws(E) -> BatchDecision,
    failure: (TrajectoryFailure) -> E
) throws(E) -> EnsembleSolution<Reduced>? {
    let size = max(1, batchSize ?? trajectories)
    var accumulated = reduction.initial
    var records: [TrajectoryRecord] = []
    records.reserveCapacity(trajectories)
    var holdsResult = true
    var converged = false
    var lower = 0
    while lower < trajectories {
        let range = lower..<min(trajectories, lower + size)
        var decision = BatchDecision.proceed
        if let outcomes = try execute(range) {
            var outputs: [Output] = []
            outputs.reserveCapacity(outcomes.count)
            for outcome in outcomes {
                switch outcome {
                case .finished(let record, let output):
                    records.append(record)
                    outputs.append(output)
                case .failed(let f):
                    if case .proceed = decision { decision = .fail(f) }
                }
            }
            if case .proceed = decision, reduction.fold(&accumulated, outputs, range), range.upperBound < trajectories {
                decision = .stop
            }
        } else {
            holdsResult = false
        }
        switch try agree(decision) {
        case .fail(let f): throw failure(f)
        case .stop: converged = true
        case .proceed: break
        }
        if converged { break }
        lower = range.upperBound
    }
    guard holdsResult else { return nil }
    return EnsembleSolution(u: accumulated, trajectories: records, converged: converged, requested: trajectories)
}
