import DiffEqCore

// The solves of gradients (forward mode on dual numbers of each width, the adjoints in
// `Double`), compiled here once (``ODEAlgorithm/_solvePrecompiled(_:options:)``), as for the
// explicit Runge-Kutta methods (ExplicitRK's PrecompiledSolves.swift): the model is behind
// closures (``ErasedModelRHS``, its forward-mode Jacobian included) and the method is its
// tableau, Jacobian source and linear solver.

/// A Rosenbrock method given by the values ``RosenbrockAlgorithm``'s solve reads of it.
@usableFromInline
struct _ValueRosenbrock: RosenbrockAlgorithm {
    @usableFromInline let tableau: RosenbrockTableau
    @usableFromInline let jacobian: JacobianSource
    @usableFromInline let linearSolver: LinearSolver
    @inlinable init<A: RosenbrockAlgorithm>(_ algorithm: A) {
        tableau = algorithm.tableau
        jacobian = algorithm.jacobian
        linearSolver = algorithm.linearSolver
    }
}

extension RosenbrockAlgorithm {
    @inlinable
    public func _solvePrecompiled(_ problem: ODEProblem<ErasedModelRHS<Double>>, options: SolveOptions)
        throws(DiffEqError) -> ODESolution<Double>
    {
        try _rosenbrockSolve(_ValueRosenbrock(self), problem, options)
    }

    @inlinable
    public func _solvePrecompiled(_ problem: ODEProblem<ErasedModelRHS<Dual<2, Double>>>, options: SolveOptions)
        throws(DiffEqError) -> ODESolution<Dual<2, Double>>
    {
        try _rosenbrockSolve(_ValueRosenbrock(self), problem, options)
    }

    @inlinable
    public func _solvePrecompiled(_ problem: ODEProblem<ErasedModelRHS<Dual<4, Double>>>, options: SolveOptions)
        throws(DiffEqError) -> ODESolution<Dual<4, Double>>
    {
        try _rosenbrockSolve(_ValueRosenbrock(self), problem, options)
    }

    @inlinable
    public func _solvePrecompiled(_ problem: ODEProblem<ErasedModelRHS<Dual<8, Double>>>, options: SolveOptions)
        throws(DiffEqError) -> ODESolution<Dual<8, Double>>
    {
        try _rosenbrockSolve(_ValueRosenbrock(self), problem, options)
    }

    @inlinable
    public func _solvePrecompiled(_ problem: ODEProblem<ErasedModelRHS<Dual<13, Double>>>, options: SolveOptions)
        throws(DiffEqError) -> ODESolution<Dual<13, Double>>
    {
        try _rosenbrockSolve(_ValueRosenbrock(self), problem, options)
    }
}

@usableFromInline
func _rosenbrockSolve(_ method: _ValueRosenbrock, _ problem: ODEProblem<ErasedModelRHS<Double>>, _ options: SolveOptions)
    throws(DiffEqError) -> ODESolution<Double>
{
    try method.solve(problem, options: options)
}

@usableFromInline
func _rosenbrockSolve(_ method: _ValueRosenbrock, _ problem: ODEProblem<ErasedModelRHS<Dual<2, Double>>>, _ options: SolveOptions)
    throws(DiffEqError) -> ODESolution<Dual<2, Double>>
{
    try method.solve(problem, options: options)
}

@usableFromInline
func _rosenbrockSolve(_ method: _ValueRosenbrock, _ problem: ODEProblem<ErasedModelRHS<Dual<4, Double>>>, _ options: SolveOptions)
    throws(DiffEqError) -> ODESolution<Dual<4, Double>>
{
    try method.solve(problem, options: options)
}

@usableFromInline
func _rosenbrockSolve(_ method: _ValueRosenbrock, _ problem: ODEProblem<ErasedModelRHS<Dual<8, Double>>>, _ options: SolveOptions)
    throws(DiffEqError) -> ODESolution<Dual<8, Double>>
{
    try method.solve(problem, options: options)
}

@usableFromInline
func _rosenbrockSolve(_ method: _ValueRosenbrock, _ problem: ODEProblem<ErasedModelRHS<Dual<13, Double>>>, _ options: SolveOptions)
    throws(DiffEqError) -> ODESolution<Dual<13, Double>>
{
    try method.solve(problem, options: options)
}
