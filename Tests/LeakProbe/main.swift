// leak-probe: drives the CVODE and CVODES paths (success, failure and event paths, every CVODE
// algorithm and every CVODES sensealg) for scripts/leak-check.sh, which runs each path under
// valgrind and fails on any definitely-lost byte or invalid access.
//
//   leak-probe --list      the path names
//   leak-probe NAME        runs one path three times (a per-solve leak then shows three times)
//   leak-probe             runs every path
//
// Each path must end in a solution, a gradient or a typed error; which one is printed.
import DiffEq

#if canImport(Glibc)
import Glibc
import ProblemLibrary
import SundialsBridge
import SensitivityCVODES
#endif

/// Lotka-Volterra, `p = [1.5, 1, 3, 1]` (the project's standard non-stiff test).
struct LotkaVolterraModel: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = p[0] * u[0] - p[1] * u[0] * u[1]
        du[1] = -p[2] * u[1] + p[3] * u[0] * u[1]
    }
}

/// Lotka-Volterra whose right-hand side turns NaN past t = 2.
struct NaNLaterModel: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = p[0] * u[0] - p[1] * u[0] * u[1]
        du[1] = -p[2] * u[1] + p[3] * u[0] * u[1]
        if t.primal > 2 { du[1] = S(Double.nan) }
    }
}

let lv = ODEProblem(model: LotkaVolterraModel(), u0: [1.0, 1.0], tspan: (0, 10), p: [1.5, 1, 3, 1])
let lvNaN = ODEProblem(model: NaNLaterModel(), u0: [1.0, 1.0], tspan: (0, 10), p: [1.5, 1, 3, 1])
let rober = TestProblems.rober(tEnd: 1e5)
let lvClosure = ODEProblem(
    f: { du, u, p, t in
        du[0] = p[0] * u[0] - p[1] * u[0] * u[1]
        du[1] = -p[2] * u[1] + p[3] * u[0] * u[1]
    },
    jacobian: { J, u, p, t in
        J[0] = p[0] - p[1] * u[1]; J[1] = p[3] * u[1]
        J[2] = -p[1] * u[0]; J[3] = -p[2] + p[3] * u[0]
    }, u0: [1.0, 1.0], tspan: (0, 10), p: [1.5, 1, 3, 1])
let observed = SolveOptions(reltol: 1e-8, abstol: 1e-10, saveat: .times([1, 2.5, 5, 10]))
let nanOptions = SolveOptions(reltol: 1e-8, abstol: 1e-10, saveat: .times([1, 2.5]), maxiters: 2000)

func describe<S>(_ s: ODESolution<S>) -> String { "\(s.retcode), \(s.t.count) points" }

func solvePath<F: ODEFunction, A: ODEAlgorithm>(_ p: ODEProblem<F>, _ a: A, _ o: SolveOptions) -> String {
    do { return describe(try solve(p, a, options: o)) } catch { return "threw: \(error)" }
}

func gradientPath<M: ODEModel, S: SensitivityAlgorithm>(
    _ p: ODEProblem<GenericRHS<M, Double>>, _ s: S, _ o: SolveOptions = observed, wrt: GradientInputs = .parametersAndInitialState
) -> String {
    do {
        let r = try gradient(of: SumOfSquaresLoss(), p, algorithm: CVODE_BDF(), options: o, sensealg: s, wrt: wrt)
        return "gradient \(r.dp)"
    } catch { return "threw: \(error)" }
}

let eventProblem: ODEProblem<ClosureRHS<Double>> = {
    var p = lvClosure
    p.callbacks = CallbackSet(
        continuous: [
            ContinuousCallback(condition: { u, _, _ in u[0] - 2 }, affect: { c in c.u[0] *= 0.5 }),
            ContinuousCallback(condition: { _, t, _ in t - 7 }, affect: { c in c.terminate() }),
        ],
        discrete: [DiscreteCallback(condition: { _, t, _ in t > 3 && t < 3.5 }, affect: { c in c.u[1] += 1e-3 })])
    return p
}()

/// Lotka-Volterra's full 2 x 2 pattern, values by coloured differences.
func lvSparse() -> CVODESparseJacobian { CVODESparseJacobian(pattern: CVODESparsityPattern(columns: [[0, 1], [0, 1]])) }

/// GMRES preconditioned by Lotka-Volterra's whole Jacobian as one 2 x 2 block.
func lvKrylov(_ side: CVODEKrylov.Side) -> CVODEKrylov {
    CVODEKrylov(side: side, preconditioner: {
        CVODEBlockDiagonalPreconditioner(blockSize: 2, blockCount: 1) { _, J, u, p, _ in
            J[0] = p[0] - p[1] * u[1]; J[1] = p[3] * u[1]; J[2] = -p[1] * u[0]; J[3] = -p[2] + p[3] * u[0]
        }
    })
}

let paths: [(String, () -> String)] = [
    // CVODE: every algorithm and nonlinear solver, success paths.
    ("adams", { solvePath(lv, CVODE_Adams(), observed) }),
    ("adams-newton", { solvePath(lv, CVODE_Adams(nonlinearSolver: .newton), SolveOptions(reltol: 1e-6, dense: true)) }),
    ("adams-analytic-jacobian", { solvePath(lvClosure, CVODE_Adams(nonlinearSolver: .newton), observed) }),
    ("bdf", { solvePath(rober, CVODE_BDF(), SolveOptions(reltol: 1e-8, abstol: 1e-10)) }),
    ("bdf-fixed-point", { solvePath(lv, CVODE_BDF(nonlinearSolver: .fixedPoint), observed) }),
    ("bdf-analytic-jacobian", { solvePath(lvClosure, CVODE_BDF(), SolveOptions(saveat: .every(0.5), dense: true)) }),
    ("bdf-stability-limit", { solvePath(lv, CVODE_BDF(stabilityLimitDetection: true), observed) }),
    ("bdf-low-order-tstops", { solvePath(lv, CVODE_BDF(maxOrder: 2), SolveOptions(tstops: [0.5, 3.3, 7])) }),
    ("bdf-float", {
        let p = ODEProblem(f: { (du: inout [Float], u: [Float], p: [Float], t: Float) in du[0] = -u[0] }, u0: [Float(1)], tspan: (0, 1))
        return solvePath(p, CVODE_BDF(), SolveOptions())
    }),
    ("global-error-control-bdf", { solvePath(lv, GlobalErrorControl(CVODE_BDF()), SolveOptions(reltol: 1e-5, abstol: 1e-7)) }),
    // CVODE's linear-solver choice: KLU (user values, coloured differences), SPGMR/SPFGMR with
    // and without a preconditioner, and a preconditioner that fails after the solver exists.
    ("bdf-klu-differences", { solvePath(lv, CVODE_BDF(linearSolver: .klu(lvSparse())), observed) }),
    ("bdf-klu-values", {
        let jacobian = CVODESparseJacobian(pattern: lvSparse().pattern) { v, u, p, _ in
            v[0] = p[0] - p[1] * u[1]; v[1] = p[3] * u[1]; v[2] = -p[1] * u[0]; v[3] = -p[2] + p[3] * u[0]
        }
        return solvePath(lv, CVODE_Adams(nonlinearSolver: .newton, linearSolver: .klu(jacobian)), observed)
    }),
    ("bdf-gmres", { solvePath(lv, CVODE_BDF(linearSolver: .gmres(CVODEKrylov())), observed) }),
    ("bdf-gmres-block-preconditioner", { solvePath(lv, CVODE_BDF(linearSolver: .gmres(lvKrylov(.left))), observed) }),
    ("bdf-fgmres", { solvePath(lv, CVODE_BDF(linearSolver: .flexibleGMRES(lvKrylov(.right))), observed) }),
    ("bdf-gmres-failing-preconditioner", {
        let krylov = CVODEKrylov(preconditioner: {
            CVODEBlockDiagonalPreconditioner(blockSize: 3, blockCount: 1) { _, _, _, _, _ in }  // 3 x 1 != 2 states
        })
        return solvePath(lv, CVODE_BDF(linearSolver: .gmres(krylov)), observed)
    }),
    // CVODE failure paths: each allocates before it fails.
    ("adams-nan", { solvePath(lvNaN, CVODE_Adams(), observed) }),
    ("bdf-nan", { solvePath(lvNaN, CVODE_BDF(), observed) }),
    ("bdf-max-steps", { solvePath(rober, CVODE_BDF(maxNumSteps: 20), SolveOptions()) }),
    ("adams-maxiters", { solvePath(lv, CVODE_Adams(), SolveOptions(maxiters: 15)) }),
    ("bdf-dtmax-tiny", { solvePath(lv, CVODE_BDF(), SolveOptions(dtmax: 1e-6, maxiters: 200)) }),
    ("bdf-resized-du", {
        let p = ODEProblem(f: { du, u, p, t in if t > 1 { du = [0] } else { du[0] = -u[0]; du[1] = -u[1] } }, u0: [1.0, 1.0], tspan: (0, 2))
        return solvePath(p, CVODE_BDF(), SolveOptions())
    }),
    ("bdf-invalid-input", { solvePath(lv, CVODE_BDF(), SolveOptions(reltol: .nan)) }),
    ("adams-invalid-order", { solvePath(lv, CVODE_Adams(maxOrder: 13), SolveOptions()) }),
    // CVODE event paths: root finding, affects that change u, termination, a NaN condition.
    ("bdf-events", { solvePath(eventProblem, CVODE_BDF(), SolveOptions(reltol: 1e-6)) }),
    ("adams-events", { solvePath(eventProblem, CVODE_Adams(), SolveOptions(reltol: 1e-6, saveat: .every(0.25))) }),
    ("bdf-event-nan-condition", {
        var p = lvClosure
        p.callbacks = CallbackSet(ContinuousCallback(condition: { _, t, _ in t > 4 ? .nan : -1 }, affect: { _ in }))
        return solvePath(p, CVODE_BDF(), SolveOptions())
    }),
    ("bdf-event-nan-affect", {
        var p = lvClosure
        p.callbacks = CallbackSet(ContinuousCallback(condition: { _, t, _ in t - 4 }, affect: { c in c.u[0] = .nan }))
        return solvePath(p, CVODE_Adams(), SolveOptions())
    }),
    // CVODES forward sensitivities.
    ("cvodes-forward-bdf", { gradientPath(lv, CVODESForward()) }),
    ("cvodes-forward-adams", { gradientPath(lv, CVODESForward(method: .adams)) }),
    ("cvodes-forward-staggered", { gradientPath(lv, CVODESForward(corrector: .staggered)) }),
    ("cvodes-forward-no-error-control", { gradientPath(lv, CVODESForward(sensitivityErrorControl: false), wrt: .parameters) }),
    // A step limit keeps the NaN paths short under valgrind: CVODES has no step-size floor and
    // takes every allowed step at a NaN wall (issue #14, item 5).
    ("cvodes-forward-nan", { gradientPath(lvNaN, CVODESForward(), nanOptions) }),
    ("cvodes-forward-max-steps", { gradientPath(lv, CVODESForward(maxNumSteps: 10)) }),
    // CVODES adjoint: both interpolations, both families, checkpointing at several strides.
    ("cvodes-adjoint-bdf", { gradientPath(lv, CVODESAdjoint()) }),
    ("cvodes-adjoint-adams", { gradientPath(lv, CVODESAdjoint(method: .adams)) }),
    ("cvodes-adjoint-every-step", { gradientPath(lv, CVODESAdjoint(stepsBetweenCheckpoints: 1)) }),
    ("cvodes-adjoint-no-quadrature-error-control", { gradientPath(lv, CVODESAdjoint(quadratureErrorControl: false), wrt: .parameters) }),
    ("cvodes-adjoint-polynomial", { gradientPath(lv, CVODESAdjoint(interpolation: .polynomial)) }),
    ("cvodes-adjoint-polynomial-adams", { gradientPath(lv, CVODESAdjoint(method: .adams, stepsBetweenCheckpoints: 7, interpolation: .polynomial)) }),
    // Issue #14, item 1: fewer steps between checkpoints than the order CVODES reaches.
    ("cvodes-adjoint-polynomial-short-stride", {
        gradientPath(lv, CVODESAdjoint(stepsBetweenCheckpoints: 2, interpolation: .polynomial))
    }),
    ("cvodes-adjoint-nan", { gradientPath(lvNaN, CVODESAdjoint(), nanOptions) }),
    ("cvodes-adjoint-max-steps", { gradientPath(lv, CVODESAdjoint(maxNumSteps: 10)) }),
    ("cvodes-adjoint-huge-stride", { gradientPath(lv, CVODESAdjoint(stepsBetweenCheckpoints: Int.max)) }),
]

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments == ["--list"] {
    for (name, _) in paths { print(name) }
} else {
    let chosen = arguments.isEmpty ? paths : paths.filter { arguments.contains($0.0) }
    if chosen.isEmpty {
        print("unknown path: \(arguments); see --list")
        exit(2)
    }
    for (name, run) in chosen {
        for _ in 0..<(arguments.isEmpty ? 1 : 3) {
            print("\(name): \(run())")
            fflush(stdout)
        }
    }
}
