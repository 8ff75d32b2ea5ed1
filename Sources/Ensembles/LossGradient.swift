import DiffEqCore

/// A trajectory's loss and its gradient with respect to the shared parameters: the output to
/// keep for data-parallel training, where the ensemble's trajectories are the data (initial
/// states, minibatch members, parameter perturbations) and the loss is summed over them.
///
/// ```swift
/// struct Member: Sendable { var prob: ODEProblem<GenericRHS<Model, Double>>; var data: [[Double]] }
/// let ensemble = EnsembleProblem(
///     Member(prob: prob, data: []),
///     probFunc: { m, ctx in Member(prob: m.prob.remake(u0: initialStates[ctx.index]), data: observed[ctx.index]) },
///     outputFunc: { (r: LossGradient, _) in .keep(r) }, reduction: .sum(parameters: prob.p.count))
/// let total = try solve(ensemble, EnsembleThreads(4), trajectories: initialStates.count) { m in
///     let r = try gradient(of: MyLoss(m.data), m.prob, algorithm: Tsit5(), options: options,
///                          sensealg: QuadratureAdjoint(), wrt: .parameters)
///     return LossGradient(loss: r.loss, gradient: r.dp)
/// }.u
/// ```
public struct LossGradient: Sendable, Equatable {
    public var loss: Double
    public var gradient: [Double]

    public init(loss: Double, gradient: [Double]) {
        self.loss = loss
        self.gradient = gradient
    }
}

// A gradient computation is a trajectory's "solve" in a data-parallel ensemble: it either
// returns a result or throws (a failed forward solve is a thrown `SensitivityError`), so a
// result is a success.
extension LossGradient: TrajectorySolution {
    public var retcode: ReturnCode { .success }
    public var message: String? { nil }
}

extension EnsembleReduction where Output == LossGradient, Reduced == LossGradient {
    /// The sum of the losses and gradients, added in trajectory order (so the bits do not
    /// depend on the back end, the thread count or the number of ranks). A gradient of another
    /// length than `parameters` makes the loss and every entry NaN, so it cannot pass unnoticed.
    public static func sum(parameters: Int) -> EnsembleReduction<LossGradient, LossGradient> {
        EnsembleReduction(initial: LossGradient(loss: 0, gradient: [Double](repeating: 0, count: parameters))) { acc, batch, _ in
            for item in batch {
                acc.loss += item.loss
                guard item.gradient.count == acc.gradient.count else {
                    acc.loss = .nan
                    for k in acc.gradient.indices { acc.gradient[k] = .nan }
                    continue
                }
                for k in acc.gradient.indices { acc.gradient[k] += item.gradient[k] }
            }
            return false
        }
    }
}
