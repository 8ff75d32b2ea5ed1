import DiffEqCore
import ExplicitRK
import StiffSolvers

// Forward-mode gradients of a fixed-size problem (issue #15, the gate on
// `ForwardDiffSensitivity`): the dual solve runs on `FixedVector<N, Dual<C, Double>>`, the
// state and its derivatives in registers, on the fixed-size stepper of the explicit Runge-Kutta,
// Rosenbrock or SDIRK methods.

/// The gradient of `L = Σ_k g(u(t_k), t_k)` for a fixed-size problem in the generic form
/// (``StaticODEModel``) by forward mode (``ForwardDiffSensitivity``), with an explicit
/// Runge-Kutta method: the same chunks, seeds and scaling as for an array problem, each chunk one
/// solve of `FixedVector<N, Dual<C, Double>>` states. With a Rosenbrock method, see
/// ``gradient(of:_:algorithm:options:sensealg:wrt:)-(_,_,RosenbrockAlgorithm,_,_,_)``.
///
/// The result equals the array form's (`gradient(of:_:algorithm:options:sensealg:wrt:)` on an
/// ``ODEModel`` with the same operations in the same order) to the bit: the fixed-size stepper
/// takes the array stepper's steps with the same arithmetic (DESIGN.md, "The state protocol").
/// The loss sees each observed state as an array (`u.components`).
///
/// ```swift
/// let prob = StaticODEProblem(model: LotkaVolterra(), u0: [1.0, 1.0] as StaticVector<2>, tspan: (0, 10),
///                             p: [1.5, 1, 3, 1] as StaticVector<4>)
/// let r = try gradient(of: SumOfSquaresLoss(), prob, algorithm: Tsit5(),
///                      options: SolveOptions(reltol: 1e-8, abstol: 1e-8, saveat: .every(1)), wrt: .parameters)
/// ```
///
/// Performance: Lotka-Volterra's four parameters (one `Dual<4>` chunk, Tsit5 at 1e-8) cost
/// 977,277 instructions per gradient against 1,447,365 in the array form, 1.48x fewer
/// (callgrind, `rk-bench --overhead --gradient-lv fixed|array`). Each dual width used is the
/// fixed-size solver compiled in the caller's module for the model.
@inlinable
public func gradient<M: StaticODEModel, let N: Int, let P: Int, L: PointLoss, A: ExplicitRKAlgorithm>(
    of loss: L, _ problem: StaticODEProblem<StaticModelRHS<M, N, P, Double>>, algorithm: A, options: SolveOptions,
    sensealg: ForwardDiffSensitivity = ForwardDiffSensitivity(), wrt inputs: GradientInputs = .parametersAndInitialState
) throws(SensitivityError) -> SensitivityResult {
    try _staticGradient(of: loss, problem, _StaticExplicitRK(algorithm), options, sensealg, inputs)
}

/// The gradient of `L = Σ_k g(u(t_k), t_k)` for a fixed-size problem in the generic form by
/// forward mode, with a Rosenbrock method: each chunk one solve of
/// `FixedVector<N, Dual<C, Double>>` states on the fixed-size Rosenbrock stepper, with `J` by
/// forward-mode AD on nested duals (``StaticModelRHS/forwardModeJacobian(_:_:_:)``) and the
/// values of `W` factored once per attempt (``StaticRosenbrockStepper``), as the array form does.
/// A problem with a mass matrix is refused, as for an array problem.
///
/// The result equals the array form's (`gradient(of:_:algorithm:options:sensealg:wrt:)` on an
/// ``ODEModel`` with the same operations in the same order) to the bit
/// (`StaticRosenbrockGradientTests`).
///
/// Performance: Lotka-Volterra's four parameters (one `Dual<4>` chunk, Rodas5P at 1e-8, 718
/// steps, `J` by forward mode in both forms) cost 9,140,600 instructions per gradient against
/// 13,896,041 in the array form, 1.52x fewer (callgrind, `rosen-step-bench --gradient-lv
/// fixed|array`, (11 − 1 gradients)/10).
@inlinable
public func gradient<M: StaticODEModel, let N: Int, let P: Int, L: PointLoss, A: RosenbrockAlgorithm>(
    of loss: L, _ problem: StaticODEProblem<StaticModelRHS<M, N, P, Double>>, algorithm: A, options: SolveOptions,
    sensealg: ForwardDiffSensitivity = ForwardDiffSensitivity(), wrt inputs: GradientInputs = .parametersAndInitialState
) throws(SensitivityError) -> SensitivityResult {
    try _staticGradient(of: loss, problem, _StaticRosenbrock(algorithm), options, sensealg, inputs)
}

/// The gradient of `L = Σ_k g(u(t_k), t_k)` for a fixed-size problem in the generic form by
/// forward mode, with an (E)SDIRK method (TRBDF2, KenCarp4, Kvaerno5, …): each chunk one solve
/// of `FixedVector<N, Dual<C, Double>>` states on the fixed-size SDIRK stepper
/// (``StaticSDIRKStepper``: `J` by forward-mode AD on nested duals, the values of `W = I − γhJ`
/// factored, the Newton iteration on the dual stage equations), as the array form does.
///
/// The result equals the array form's (`gradient(of:_:algorithm:options:sensealg:wrt:)` on an
/// ``ODEModel`` with the same operations in the same order) to the bit
/// (`StaticSDIRKGradientTests`).
///
/// Performance: Lotka-Volterra's four parameters (one `Dual<4>` chunk, KenCarp4 at 1e-8, 696
/// steps, `J` by forward mode in both forms) cost 10,325,161 instructions per gradient against
/// 14,476,009 in the array form, 1.40x fewer (callgrind, `METHOD=KenCarp4 rosen-step-bench
/// --gradient-lv fixed|array`, (6 − 1 gradients)/5).
@inlinable
public func gradient<M: StaticODEModel, let N: Int, let P: Int, L: PointLoss, A: SDIRKAlgorithm>(
    of loss: L, _ problem: StaticODEProblem<StaticModelRHS<M, N, P, Double>>, algorithm: A, options: SolveOptions,
    sensealg: ForwardDiffSensitivity = ForwardDiffSensitivity(), wrt inputs: GradientInputs = .parametersAndInitialState
) throws(SensitivityError) -> SensitivityResult {
    try _staticGradient(of: loss, problem, _StaticSDIRK(algorithm), options, sensealg, inputs)
}

/// The dual problem of one forward-mode chunk.
public typealias _StaticDualProblem<M: StaticODEModel, let N: Int, let P: Int, let C: Int> =
    StaticODEProblem<StaticModelRHS<M, N, P, Dual<C, Double>>>

/// A method family's fixed-size solve of a dual problem (what a forward-mode chunk runs); one
/// adapter per family, since the families' `solve`s are requirements of three protocols.
@usableFromInline
protocol _StaticDualSolver {
    func solve<M: StaticODEModel, let N: Int, let P: Int, let C: Int>(_ problem: _StaticDualProblem<M, N, P, C>, _ options: SolveOptions)
        throws(DiffEqError) -> StaticODESolution<FixedVector<N, Dual<C, Double>>>
}

@usableFromInline
struct _StaticExplicitRK<A: ExplicitRKAlgorithm>: _StaticDualSolver {
    @usableFromInline let algorithm: A
    @inlinable init(_ algorithm: A) { self.algorithm = algorithm }
    @inlinable func solve<M: StaticODEModel, let N: Int, let P: Int, let C: Int>(_ problem: _StaticDualProblem<M, N, P, C>, _ options: SolveOptions)
        throws(DiffEqError) -> StaticODESolution<FixedVector<N, Dual<C, Double>>> { try algorithm.solve(problem, options: options) }
}

@usableFromInline
struct _StaticRosenbrock<A: RosenbrockAlgorithm>: _StaticDualSolver {
    @usableFromInline let algorithm: A
    @inlinable init(_ algorithm: A) { self.algorithm = algorithm }
    @inlinable func solve<M: StaticODEModel, let N: Int, let P: Int, let C: Int>(_ problem: _StaticDualProblem<M, N, P, C>, _ options: SolveOptions)
        throws(DiffEqError) -> StaticODESolution<FixedVector<N, Dual<C, Double>>> { try algorithm.solve(problem, options: options) }
}

@usableFromInline
struct _StaticSDIRK<A: SDIRKAlgorithm>: _StaticDualSolver {
    @usableFromInline let algorithm: A
    @inlinable init(_ algorithm: A) { self.algorithm = algorithm }
    @inlinable func solve<M: StaticODEModel, let N: Int, let P: Int, let C: Int>(_ problem: _StaticDualProblem<M, N, P, C>, _ options: SolveOptions)
        throws(DiffEqError) -> StaticODESolution<FixedVector<N, Dual<C, Double>>> { try algorithm.solve(problem, options: options) }
}

/// The chunks of a fixed-size forward-mode gradient, each solved by `solver`.
@inlinable
func _staticGradient<M: StaticODEModel, let N: Int, let P: Int, L: PointLoss, S: _StaticDualSolver>(
    of loss: L, _ problem: StaticODEProblem<StaticModelRHS<M, N, P, Double>>, _ solver: S, _ options: SolveOptions,
    _ sensealg: ForwardDiffSensitivity, _ inputs: GradientInputs
) throws(SensitivityError) -> SensitivityResult {
    guard problem.callbacks.isEmpty else {
        throw .unsupported("gradients through events (callbacks) are not supported by the sensitivity methods")
    }
    // As for an array problem (an identity given explicitly is no mass matrix).
    if let m = problem.massMatrix, !(0..<N).allSatisfy({ j in (0..<N).allSatisfy { i in m[i, j] == (i == j ? 1 : 0) } }) {
        throw .unsupported("a mass matrix (DAE) is not supported by the sensitivity methods")
    }
    // The plan's checks (span, options, observation times) are the array form's; they read the
    // initial state, span and parameters, never the right-hand side.
    let plan = try ObservationPlan(
        ODEProblem(ClosureRHS<Double>({ _, _, _, _ in }), u0: problem.u0.components, tspan: problem.tspan,
            p: problem.p.components),
        options: options, wrt: inputs)
    let total = plan.directionCount
    var result = SensitivityResult(
        loss: 0, dp: [Double](repeating: 0, count: P),
        du0: [Double](repeating: 0, count: inputs == .parameters ? 0 : N), stats: SensitivityStats(),
        method: sensealg.name)
    // The array form's chunks (a model in this form has no analytic Jacobian: at most 8).
    var offset = 0
    repeat {
        let width = Swift.min(8, total - offset)
        switch width {
        case ...2: try _staticChunk(Dual<2, Double>.self, offset, width, loss, problem, solver, plan, &result)
        case ...4: try _staticChunk(Dual<4, Double>.self, offset, width, loss, problem, solver, plan, &result)
        default: try _staticChunk(Dual<8, Double>.self, offset, width, loss, problem, solver, plan, &result)
        }
        offset += width
    } while offset < total
    return try _restricted(result, to: plan)
}

/// One fixed-size dual solve carrying directions `offset..<offset + width`.
@inlinable
func _staticChunk<let C: Int, M: StaticODEModel, let N: Int, let P: Int, L: PointLoss, S: _StaticDualSolver>(
    _: Dual<C, Double>.Type, _ offset: Int, _ width: Int, _ loss: L,
    _ problem: StaticODEProblem<StaticModelRHS<M, N, P, Double>>, _ solver: S,
    _ plan: ObservationPlan, _ result: inout SensitivityResult
) throws(SensitivityError) {
    typealias D = Dual<C, Double>
    let (pd, ud) = ForwardDiffSensitivity._seededInputs(D.self, offset, width, plan)
    var u0 = FixedVector<N, D>()
    for i in 0..<N { u0[i] = ud[i] }
    var p = FixedVector<P, D>()
    for k in 0..<P { p[k] = pd[k] }
    let prob = StaticODEProblem(model: problem.f.model, u0: u0, tspan: (plan.t0, plan.t1), p: p)
    let sol: StaticODESolution<FixedVector<N, D>>
    do { sol = try solver.solve(prob, plan.options) } catch { throw .invalidInput(error) }
    guard sol.retcode.isSuccessful else {
        throw .solveFailed(phase: "forward (dual, fixed size)", retcode: sol.retcode, message: sol.message)
    }
    var l = D.zero
    for (t, u) in zip(sol.t, sol.u) { l += loss(u.components, t) }
    ForwardDiffSensitivity._accumulate(l, offset, width, plan, sol.stats, observations: sol.u.count, into: &result)
}
