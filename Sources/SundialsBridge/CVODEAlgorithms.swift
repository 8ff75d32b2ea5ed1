import DiffEqCore

/// The nonlinear solver CVODE uses for the implicit corrector equation of each step.
public enum CVODENonlinearSolver: Sendable, Equatable {
    /// Newton iteration with a dense direct linear solver on `I - γJ`; `J` is the user's
    /// analytic Jacobian when the problem has one (and the algorithm allows it), otherwise
    /// CVODE's difference-quotient approximation. The right choice for stiff problems.
    case newton
    /// Fixed-point (functional) iteration, Anderson acceleration off: no Jacobian and no
    /// linear algebra. Cheap per step, but it converges only when `h·‖J‖` is small, so it is
    /// for non-stiff problems.
    case fixedPoint
}

/// A sign CVODE keeps a component of the state to (`CVodeSetConstraints`): after each
/// corrector solve CVODE checks the new state against the constraints and, where one is
/// violated, retries the step with a smaller size (CVODES User Guide, SUNDIALS 6.x, §2.1
/// "inequality constraints", and `CVodeSetConstraints`).
public enum CVODEConstraint: Sendable, Equatable {
    /// No constraint.
    case none
    /// `u_i ≥ 0`.
    case nonNegative
    /// `u_i > 0`.
    case positive
    /// `u_i ≤ 0`.
    case nonPositive
    /// `u_i < 0`.
    case negative

    /// CVODE's code: 0, 1, 2, -1, -2.
    var code: Double {
        switch self {
        case .none: return 0
        case .nonNegative: return 1
        case .positive: return 2
        case .nonPositive: return -1
        case .negative: return -2
        }
    }

    /// Whether `x` satisfies the constraint.
    func admits(_ x: Double) -> Bool {
        switch self {
        case .none: return true
        case .nonNegative: return x >= 0
        case .positive: return x > 0
        case .nonPositive: return x <= 0
        case .negative: return x < 0
        }
    }
}

/// CVODE's variable-order, variable-step Adams-Moulton method (orders 1 to 12), for non-stiff
/// problems, as `CVODE_Adams` in Sundials.jl.
///
/// As in Sundials.jl, the corrector is solved by fixed-point (functional) iteration unless you
/// ask for ``CVODENonlinearSolver/newton``.
///
/// ```swift
/// let sol = try solve(prob, CVODE_Adams(), reltol: 1e-8, abstol: 1e-10)
/// ```
///
/// See ``CVODE_BDF`` for what both algorithms support (events, return codes, statistics).
///
/// References: A. C. Hindmarsh et al., "SUNDIALS: Suite of nonlinear and
/// differential/algebraic equation solvers", ACM TOMS 31 (2005) 363-396; the CVODES User
/// Guide (SUNDIALS 6.x), §2 "Mathematical considerations".
public struct CVODE_Adams: ODEAlgorithm, Sendable {
    /// Largest order CVODE may use, 1...12.
    public var maxOrder: Int
    /// Largest number of internal steps before the solve stops with
    /// ``ReturnCode/maxIters``; `nil` uses `SolveOptions.maxiters`.
    public var maxNumSteps: Int?
    /// The corrector iteration (``CVODENonlinearSolver/fixedPoint`` by default).
    public var nonlinearSolver: CVODENonlinearSolver
    /// With ``CVODENonlinearSolver/newton``: use the problem's analytic Jacobian when it has
    /// one (`true`), or always CVODE's difference quotients (`false`).
    public var useAnalyticJacobian: Bool
    /// A sign per component that CVODE keeps the state to (see ``CVODE_BDF/constraints``);
    /// `nil` for none.
    public var constraints: [CVODEConstraint]?
    /// The linear solver of the Newton iteration (see ``CVODE_BDF/linearSolver``); anything but
    /// ``CVODELinearSolver/dense`` needs `nonlinearSolver: .newton`.
    public var linearSolver: CVODELinearSolver

    public var name: String { "CVODE_Adams" }

    public init(
        maxOrder: Int = 12, maxNumSteps: Int? = nil,
        nonlinearSolver: CVODENonlinearSolver = .fixedPoint, useAnalyticJacobian: Bool = true,
        constraints: [CVODEConstraint]? = nil, linearSolver: CVODELinearSolver = .dense
    ) {
        self.linearSolver = linearSolver
        self.maxOrder = maxOrder
        self.maxNumSteps = maxNumSteps
        self.nonlinearSolver = nonlinearSolver
        self.useAnalyticJacobian = useAnalyticJacobian
        self.constraints = constraints
    }

}

/// CVODE's variable-order, variable-step backward differentiation formulas (orders 1 to 5)
/// with Newton iteration and a dense linear solver, for stiff problems, as `CVODE_BDF` in
/// Sundials.jl.
///
/// ```swift
/// let sol = try solve(rober, CVODE_BDF(), reltol: 1e-8, abstol: 1e-10)
/// ```
///
/// Both CVODE algorithms take `Double` or `Float` states (other scalars throw
/// `DiffEqError.unsupported`), scalar or per-component `abstol`, `saveat`, `dense` (CVODE's
/// own interpolating polynomial of every step, from its Nordsieck array: what `saveat` gets
/// through `CVodeGetDky`, of the order CVODE used), `tstops` (CVODE stop times),
/// `dt`/`dtmin`/`dtmax`, and backward time spans; `adaptive: false` is unsupported. Continuous
/// callbacks use CVODE's own root-finding (sign changes between step ends; `interpolationPoints`
/// is not used, and simultaneous roots all fire, in order); discrete callbacks run after every
/// step and event. A failed solve keeps what it computed; the return-code mapping is in the
/// SundialsBridge documentation.
///
/// References: A. C. Hindmarsh et al., "SUNDIALS: Suite of nonlinear and
/// differential/algebraic equation solvers", ACM TOMS 31 (2005) 363-396; G. D. Byrne and
/// A. C. Hindmarsh, "A polyalgorithm for the numerical solution of ordinary differential
/// equations", ACM TOMS 1 (1975) 71-96.
public struct CVODE_BDF: ODEAlgorithm, Sendable {
    /// Largest order CVODE may use, 1...5.
    public var maxOrder: Int
    /// Largest number of internal steps before the solve stops with
    /// ``ReturnCode/maxIters``; `nil` uses `SolveOptions.maxiters`.
    public var maxNumSteps: Int?
    /// The corrector iteration (``CVODENonlinearSolver/newton`` by default).
    public var nonlinearSolver: CVODENonlinearSolver
    /// Use the problem's analytic Jacobian when it has one (`true`), or always CVODE's
    /// difference quotients (`false`).
    public var useAnalyticJacobian: Bool
    /// CVODE's BDF stability limit detection (`CVodeSetStabLimDet`; Sundials.jl's
    /// `stability_limit_detect`), off by default as in CVODE. BDF orders 3-5 are not A-stable:
    /// on problems whose Jacobian has eigenvalues near the imaginary axis, order 5 can sit at
    /// steps where it is unstable until the error test fails repeatedly. The detection lowers
    /// the order there. Example: OREGO at reltol = abstol = 1e-6 stops at t ≈ 159 with
    /// `CV_ERR_FAILURE` without it and completes with it.
    public var stabilityLimitDetection: Bool
    /// A sign per component that CVODE keeps the state to (`CVodeSetConstraints`; one entry per
    /// component, else `DiffEqError.dimensionMismatch`; `u0` must satisfy them, else
    /// `DiffEqError.invalidStepOption`); `nil` for none. CVODE checks each corrected state and
    /// retries a step that violates a constraint with a smaller one.
    ///
    /// Why it matters: CVODE controls the local error only, and at loose tolerances the
    /// solution of a problem whose components must stay non-negative can leave that region and
    /// grow without bound while every step passes its error test. Measured here (ROBER with the
    /// IVP test set's constants, reltol 1e-4, abstol 1e-8, to t = 1.25e11 with every step
    /// saved; `ConstraintTests`): plain `CVODE_BDF` returns `success` with components down to
    /// -1.3e7 and y(1e11) = (-1.36e6, -4.0e-6, 1.36e6), 1.4e14 tolerances from the test set's
    /// reference; with `[.nonNegative, .nonNegative, .nonNegative]` every saved state is
    /// non-negative and y(1e11) is 1.5 tolerances off (504 steps instead of 846). Constraints
    /// do not help where the error keeps the sign: E5 (stiff DETEST, to 1e13) at reltol 1e-4,
    /// abstol 1e-24 ends with `success` and y2 = 3.9e-18 against 8.87e-23, 3.9e6 tolerances
    /// off, with or without them; only a tighter tolerance does.
    public var constraints: [CVODEConstraint]?
    /// The linear solver of the Newton iteration: ``CVODELinearSolver/dense`` (the default),
    /// ``CVODELinearSolver/klu(_:)`` with a sparsity pattern, or the Krylov solvers
    /// ``CVODELinearSolver/gmres(_:)`` and ``CVODELinearSolver/flexibleGMRES(_:)`` with your
    /// preconditioner. Checked before any work: a pattern of the wrong size or malformed, a
    /// Krylov dimension below 1, a side SPFGMR cannot do, or a choice other than dense with
    /// fixed-point iteration throw `DiffEqError`. With KLU or a Krylov solver the problem's
    /// dense analytic Jacobian is not used.
    ///
    /// ```swift
    /// let sparse = CVODE_BDF(linearSolver: .klu(CVODESparseJacobian(pattern: pattern)))
    /// let krylov = CVODE_BDF(linearSolver: .gmres(CVODEKrylov(preconditioner: { MyPreconditioner() })))
    /// ```
    public var linearSolver: CVODELinearSolver

    public var name: String { "CVODE_BDF" }

    public init(
        maxOrder: Int = 5, maxNumSteps: Int? = nil,
        nonlinearSolver: CVODENonlinearSolver = .newton, useAnalyticJacobian: Bool = true,
        stabilityLimitDetection: Bool = false, constraints: [CVODEConstraint]? = nil,
        linearSolver: CVODELinearSolver = .dense
    ) {
        self.linearSolver = linearSolver
        self.maxOrder = maxOrder
        self.maxNumSteps = maxNumSteps
        self.nonlinearSolver = nonlinearSolver
        self.useAnalyticJacobian = useAnalyticJacobian
        self.stabilityLimitDetection = stabilityLimitDetection
        self.constraints = constraints
    }

}

/// What ``CVODE_Adams`` and ``CVODE_BDF`` share: their settings and the one solve path.
public protocol CVODEAlgorithm: ODEAlgorithm, Sendable {
    var maxOrder: Int { get }
    var maxNumSteps: Int? { get }
    var nonlinearSolver: CVODENonlinearSolver { get }
    var useAnalyticJacobian: Bool { get }
    var constraints: [CVODEConstraint]? { get }
    var linearSolver: CVODELinearSolver { get }
    /// Whether the family is Adams-Moulton (`CVODE_Adams`) rather than BDF: what a CVODES
    /// sensitivity run passed this algorithm integrates with.
    var isAdamsMoulton: Bool { get }
}

extension CVODE_Adams: CVODEAlgorithm {
    public var isAdamsMoulton: Bool { true }
}
extension CVODE_BDF: CVODEAlgorithm {
    public var isAdamsMoulton: Bool { false }
}

extension CVODEAlgorithm {
    /// CVODE varies its order `q` and controls the local error `∝ h^(q+1)`, so `α = q/(q+1)`
    /// for the order in use: 2/3 (order 2, the low end of BDF's usual range) for `CVODE_BDF`,
    /// 3/4 for `CVODE_Adams`. The lower value overestimates the error, the safe side.
    public var toleranceExponent: Double? { self is CVODE_Adams ? 0.75 : 2.0 / 3.0 }

    @inlinable
    public func solve<F: ODEFunction>(_ problem: ODEProblem<F>, options: SolveOptions) throws(DiffEqError)
        -> ODESolution<F.Scalar>
    {
        try cvodeSolve(problem, options: options, configuration: configuration)
    }

    @usableFromInline var configuration: CVODEConfiguration {
        // The two conforming types are the two CVODE families.
        let method: CVODEMethod = self is CVODE_Adams ? .adams : .bdf
        return CVODEConfiguration(
            name: name, method: method, maxOrder: maxOrder, maxNumSteps: maxNumSteps,
            nonlinearSolver: nonlinearSolver, useAnalyticJacobian: useAnalyticJacobian,
            stabilityLimitDetection: (self as? CVODE_BDF)?.stabilityLimitDetection ?? false,
            constraints: constraints, linearSolver: linearSolver)
    }
}
