import DiffEqCore

/// Why a ``GMRESPreconditioner`` could not be set up at the current state (the step is
/// rejected and retried with a smaller one; after repeated failures the solve ends with
/// ``ReturnCode/convergenceFailure`` and this message).
public struct GMRESPreconditionerFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A right preconditioner for ``LinearSolver/gmres(_:)``: an approximation `P` of the iteration
/// matrix `W = α I + β J(t, u)` that is cheap to invert, as CVODE's `psetup`/`psolve` pair.
///
/// A value: every solve keeps its own copy (made from the algorithm value), so state set up in
/// ``setup(t:u:fu:p:alpha:beta:)`` belongs to one solve. Rosenbrock methods use `α = 1/(γh)`,
/// `β = −1`; the SDIRK Newton iterations `α = 1`, `β = −γh`.
public protocol GMRESPreconditioner: Sendable {
    /// Prepares `P ≈ α I + β J(t, u)` (`fu = f(t, u)`). Called whenever the method refactors its
    /// iteration matrix. Throwing rejects the attempt.
    mutating func setup(
        t: Double, u: UnsafeBufferPointer<Double>, fu: UnsafeBufferPointer<Double>, p: [Double], alpha: Double, beta: Double
    ) throws(GMRESPreconditionerFailure)

    /// Overwrites `r` with `P⁻¹ r`. A NaN or infinity written here ends the linear solve with a
    /// failure (the step is rejected, and the solve ends with a message naming the
    /// preconditioner when it keeps happening).
    func solve(_ r: UnsafeMutableBufferPointer<Double>)
}

/// The settings of the native restarted GMRES (``LinearSolver/gmres(_:)``).
///
/// **Stopping rule.** GMRES stops when the weighted RMS norm of the residual `r = b − W x`,
/// measured in the solve's error weights `1/(abstol_i + reltol·|u_i|)` at the point where the
/// Jacobian was taken and divided by `α`, is at most ``tolerance``:
///
///     ‖b − W x‖_WRMS / α ≤ η.
///
/// Dividing by `α` turns the residual into the error it causes in `x`: for `J` with a
/// non-positive logarithmic norm, `‖W⁻¹‖ = ‖(αI + βJ)⁻¹‖ ≤ 1/α` (Hairer & Wanner, Solving ODEs
/// II, §IV.11, for `(I − hγJ)⁻¹`), so the stage (Rosenbrock) or Newton correction (SDIRK) is
/// wrong by at most `η` tolerance units. The default `η = 0.005` is CVODE's: its Krylov
/// iterations stop at `δ = ε_L · ε` with `ε_L = 0.05` (`CVodeSetEpsLin`) times its nonlinear
/// convergence coefficient `ε = 0.1` (`CVodeSetNonlinConvCoef`) (CVODE User Guide, Mathematical
/// Considerations).
///
/// **Rosenbrock stages.** A Rosenbrock method has no Newton iteration to correct an inexact
/// solve (Hairer & Wanner II §IV.7: W-methods tolerate an inexact `J`, not an inexact solve):
/// a residual error `e` in the solve for stage `U_i = Σ_j Γ_ij k_j` (HW II (7.25)) is an error
/// `e/γ` in `k_i`, which enters `u_new` with the standard-form weight `b_i` and the error
/// estimate with `b_i − b̂_i` (its effect on later stages is `O(h)` for a small `J` and cancels
/// in a stiffly accurate method's stiff components). The stage solves thus reach the step with
/// gain at most `S = max(Σ|b_i|, Σ|b_i − b̂_i|)/γ`: Rodas5P 23.3, Rodas4 20.4 (through its
/// estimate), Rosenbrock23 3.41. At `η = 0.005` per stage that is at most 0.117, 0.102 and
/// 0.017 tolerance units per step, for the Rodas methods already the whole budget CVODE grants
/// its Newton iteration (`ε = 0.1`). So every stage keeps `η` (measurements in the
/// Performance note at the end of this type).
///
/// A solve that does not meet the test within ``maxIterations`` (or in which the
/// preconditioner returns NaN) fails: the step is rejected and retried smaller (a smaller `h`
/// makes `W` closer to `αI` and the iteration easier), and the solve ends with
/// ``ReturnCode/convergenceFailure`` and a message when it keeps failing.
public struct GMRESOptions: Sendable, Equatable {
    /// Krylov vectors kept before a restart (GMRES(m)).
    public var restart: Int
    /// Iterations per linear solve at most, over all restarts.
    public var maxIterations: Int
    /// `η` of the stopping rule.
    public var tolerance: Double
    /// `true`: `J v` by a difference quotient of `f`, `(f(t, u + σv) − f(t, u))/σ` with
    /// `σ = 1/‖v‖_WRMS` (a perturbation of one tolerance unit, CVODE's default `J v`), one
    /// evaluation of `f` per iteration, and no Jacobian is evaluated or stored. `false`: `J` is
    /// evaluated as for a direct solver (sparse by colouring when the right-hand side declares a
    /// pattern) and multiplied.
    public var jacobianFree: Bool
    /// The right preconditioner, or `nil` for none.
    public var preconditioner: (any GMRESPreconditioner)?

    public init(
        preconditioner: (any GMRESPreconditioner)? = nil, jacobianFree: Bool = false, restart: Int = 30,
        maxIterations: Int = 150, tolerance: Double = 0.005
    ) {
        self.preconditioner = preconditioner
        self.jacobianFree = jacobianFree
        self.restart = restart
        self.maxIterations = maxIterations
        self.tolerance = tolerance
    }

    /// Equal settings and preconditioners of the same type (a preconditioner's state is not
    /// compared).
    public static func == (a: GMRESOptions, b: GMRESOptions) -> Bool {
        a.restart == b.restart && a.maxIterations == b.maxIterations && a.tolerance == b.tolerance
            && a.jacobianFree == b.jacobianFree
            && a.preconditioner.map { ObjectIdentifier(type(of: $0)) } == b.preconditioner.map { ObjectIdentifier(type(of: $0)) }
    }

    /// The checks made before any work.
    func validate() throws(DiffEqError) {
        guard restart >= 1 else { throw .unsupported("GMRES restart must be at least 1, got \(restart)") }
        guard maxIterations >= 1 else { throw .unsupported("GMRES maxIterations must be at least 1, got \(maxIterations)") }
        guard tolerance > 0, tolerance.isFinite else { throw .unsupported("GMRES tolerance must be positive and finite, got \(tolerance)") }
    }

    // Performance: the Rosenbrock stages' η, measured on the 2-D Brusselator with the cell-block
    // preconditioner (large-stiff-bench's Rodas5P and Rosenbrock23 GMRES rows, η varied, one
    // solve per setting, 2026-12-07). Spending the whole ε = 0.1 on Rosenbrock23 (η = 0.029)
    // changed its Krylov iterations by −22 % to +8 % but raised its error 1.4-6.4 times (N = 64,
    // reltol 1e-4: 5.3e-5 to 3.4e-4; KLU 3.0e-5), out of the direct solve's band. Rodas5P's
    // iterations per step move ~10 % for a 4x change of η either way (N = 32, reltol 1e-4: 229 /
    // 208 / 180 at η = 0.00125 / 0.005 / 0.02) while its error moves 6.3e-6 / 3.5e-5 / 1.5e-4
    // (KLU 1.2e-6). Sharing the same total among the stages in proportion to
    // 1/max(|b_i|, |b_i − b̂_i|) took more steps (47 against 31) and more iterations (10,959
    // against 6,461). The ~270 iterations per Rodas5P step at N = 64 are the preconditioner's: it
    // leaves out the diffusion's coupling between cells, and 16x in η is only ~50 iterations per
    // 8-stage step (the residual contracts by ~0.6 per iteration).
}
