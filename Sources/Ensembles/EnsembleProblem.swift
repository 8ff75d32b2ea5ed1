import DiffEqCore

/// Which trajectory is being set up or kept, and its seed.
public struct TrajectoryContext: Sendable, Hashable {
    /// The trajectory's index, `0 ..< trajectories`.
    public let index: Int
    /// 0 for the first run, `k` for the `k`-th rerun asked for by the output function.
    public let `repeat`: Int
    /// ``trajectorySeed(ensembleSeed:index:repeat:)``: depends on the ensemble's seed, the index
    /// and the repeat only, never on the back end.
    public let seed: UInt64

    public init(index: Int, repeat attempt: Int, ensembleSeed: UInt64) {
        self.index = index
        self.repeat = attempt
        self.seed = trajectorySeed(ensembleSeed: ensembleSeed, index: index, repeat: attempt)
    }

    /// A SplitMix64 stream started at ``seed``.
    public var generator: SplitMixGenerator { SplitMixGenerator(seed: seed) }
}

/// What the output function keeps of a trajectory: its output, or a request to run it again
/// (with `repeat + 1`, so a new seed), as the `rerun` flag of DifferentialEquations.jl's `output_func`.
public enum TrajectoryOutput<Output: Sendable>: Sendable {
    case keep(Output)
    case rerun
}

/// A solution type an ensemble can report on: its return code and message. `ODESolution` and
/// `StaticODESolution` conform; the solutions of other problem kinds add a conformance.
public protocol TrajectorySolution: Sendable {
    var retcode: ReturnCode { get }
    var message: String? { get }
}

extension ODESolution: TrajectorySolution {}
extension StaticODESolution: TrajectorySolution {}

/// A problem kind an ensemble can be built over without naming its solution type:
/// `ODEProblem` (solution `ODESolution`) and `StaticODEProblem` (`StaticODESolution`). Stochastic
/// and delay problems join with one conformance and a `solve` overload (see `Solve.swift`).
public protocol EnsembleProblemKind {
    associatedtype Solution: TrajectorySolution
}

extension ODEProblem: EnsembleProblemKind {
    public typealias Solution = ODESolution<F.Scalar>
}
extension StaticODEProblem: EnsembleProblemKind {
    public typealias Solution = StaticODESolution<F.State>
}

/// How the outputs of one batch of trajectories are folded into the ensemble's result, in
/// trajectory order, with an optional early exit (DifferentialEquations.jl's `reduction` and
/// `u_init`).
///
/// `fold(&accumulated, outputs, indices)` receives a batch's outputs in trajectory order
/// (`outputs[k]` belongs to trajectory `indices.lowerBound + k`) and returns `true` to stop the
/// ensemble after this batch (a convergence test that holds). Batches are folded in order on
/// one thread, whatever the back end, so a floating-point fold gives the same bits everywhere.
public struct EnsembleReduction<Output: Sendable, Reduced: Sendable>: Sendable {
    public let initial: Reduced
    public let fold: @Sendable (inout Reduced, [Output], Range<Int>) -> Bool

    public init(initial: Reduced, fold: @escaping @Sendable (inout Reduced, [Output], Range<Int>) -> Bool) {
        self.initial = initial
        self.fold = fold
    }

    /// Keeps every output, in trajectory order (the default).
    public static func collect() -> EnsembleReduction<Output, [Output]> {
        EnsembleReduction<Output, [Output]>(initial: []) { acc, batch, _ in
            acc.append(contentsOf: batch)
            return false
        }
    }
}

/// An ensemble: one problem, made into trajectory `i`'s problem by `probFunc`, solved, reduced
/// to what matters by `outputFunc`, and folded batch by batch by `reduction` (DifferentialEquations.jl's
/// `EnsembleProblem(prob; prob_func, output_func, reduction, u_init, safetycopy)`).
///
/// ```swift
/// let ensemble = EnsembleProblem(
///     prob, probFunc: { prob, ctx in prob.remake(p: [1.5, 1, 3, 1 + 0.01 * Double(ctx.index)]) },
///     outputFunc: { sol, _ in .keep(sol.u.last ?? []) })
/// let sim = try solve(ensemble, Tsit5(), EnsembleThreads(4), trajectories: 100,
///                     options: SolveOptions(reltol: 1e-8, abstol: 1e-10))
/// sim.u[7]   // trajectory 7's final state, the same bits on every back end
/// ```
///
/// Every closure is `@Sendable` and is called for one trajectory at a time, possibly on several
/// threads at once; each gets its own copy of the problem value. The per-trajectory seed
/// (``TrajectoryContext/seed``) comes from ``seed`` and the trajectory index only.
public struct EnsembleProblem<Problem: Sendable, Solution: TrajectorySolution, Output: Sendable, Reduced: Sendable>: Sendable {
    public typealias ProblemFunction = @Sendable (Problem, TrajectoryContext) throws -> Problem
    public typealias OutputFunction = @Sendable (Solution, TrajectoryContext) throws -> TrajectoryOutput<Output>
    public typealias SafetyCopy = @Sendable (Problem) -> Problem

    public var prob: Problem
    public var probFunc: ProblemFunction
    public var outputFunc: OutputFunction
    public var reduction: EnsembleReduction<Output, Reduced>
    /// Problems are Swift values, so each trajectory's `probFunc` already gets its own copy of
    /// `prob`, arrays included (the job of DifferentialEquations.jl's `safetycopy = true`). A
    /// problem holding a *class* instance with mutable state (a model with a scratch cache)
    /// would still share that instance across threads: give `safetyCopy` a function returning a
    /// problem with a fresh instance; it is called once per trajectory attempt, before
    /// `probFunc`. `nil` (the default): no copy beyond the value copy.
    public var safetyCopy: SafetyCopy?
    /// The ensemble's seed, from which every ``TrajectoryContext/seed`` is derived.
    public var seed: UInt64

    public init(
        _ prob: Problem, probFunc: @escaping ProblemFunction = { prob, _ in prob },
        outputFunc: @escaping OutputFunction, reduction: EnsembleReduction<Output, Reduced>,
        safetyCopy: SafetyCopy? = nil, seed: UInt64 = 0
    ) {
        self.init(storing: prob, probFunc, outputFunc, reduction, safetyCopy, seed)
    }

    // The one place that stores; the public initializers differ only in their constraints (so
    // that Swift can infer the solution type), and an initializer calling `self.init` with the
    // same labels would resolve to the most constrained one: itself.
    init(
        storing prob: Problem, _ probFunc: @escaping ProblemFunction, _ outputFunc: @escaping OutputFunction,
        _ reduction: EnsembleReduction<Output, Reduced>, _ safetyCopy: SafetyCopy?, _ seed: UInt64
    ) {
        self.prob = prob
        self.probFunc = probFunc
        self.outputFunc = outputFunc
        self.reduction = reduction
        self.safetyCopy = safetyCopy
        self.seed = seed
    }
}

extension EnsembleProblem where Reduced == [Output] {
    /// An ensemble that keeps every trajectory's output, in trajectory order.
    public init(
        _ prob: Problem, probFunc: @escaping ProblemFunction = { prob, _ in prob },
        outputFunc: @escaping OutputFunction, safetyCopy: SafetyCopy? = nil, seed: UInt64 = 0
    ) {
        self.init(storing: prob, probFunc, outputFunc, .collect(), safetyCopy, seed)
    }
}

extension EnsembleProblem where Problem: EnsembleProblemKind, Solution == Problem.Solution {
    /// An ensemble over a problem kind with a known solution type, folding outputs with `reduction`.
    public init(
        _ prob: Problem, probFunc: @escaping ProblemFunction = { prob, _ in prob },
        outputFunc: @escaping OutputFunction, reduction: EnsembleReduction<Output, Reduced>,
        safetyCopy: SafetyCopy? = nil, seed: UInt64 = 0
    ) {
        self.init(storing: prob, probFunc, outputFunc, reduction, safetyCopy, seed)
    }
}

extension EnsembleProblem where Problem: EnsembleProblemKind, Solution == Problem.Solution, Reduced == [Output] {
    /// An ensemble over a problem kind with a known solution type that keeps every output.
    public init(
        _ prob: Problem, probFunc: @escaping ProblemFunction = { prob, _ in prob },
        outputFunc: @escaping OutputFunction, safetyCopy: SafetyCopy? = nil, seed: UInt64 = 0
    ) {
        self.init(storing: prob, probFunc, outputFunc, .collect(), safetyCopy, seed)
    }
}

extension EnsembleProblem where Problem: EnsembleProblemKind, Solution == Problem.Solution, Output == Solution, Reduced == [Solution] {
    /// An ensemble that keeps every trajectory's whole solution (DifferentialEquations.jl's default).
    public init(
        _ prob: Problem, probFunc: @escaping ProblemFunction = { prob, _ in prob }, safetyCopy: SafetyCopy? = nil,
        seed: UInt64 = 0
    ) {
        self.init(storing: prob, probFunc, { sol, _ in .keep(sol) }, .collect(), safetyCopy, seed)
    }
}
