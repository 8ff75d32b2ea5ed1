import DiffEqCore

// The solves of gradients (forward mode on dual numbers of each width, the adjoints in
// `Double`), compiled here once (``ODEAlgorithm/_solvePrecompiled(_:options:)``): the problem's model is behind closures
// (``ErasedModelRHS``) and the method is its tableau, so these functions depend on neither and a
// user's module calls them instead of compiling the solver again for each width and model.

/// An explicit Runge-Kutta method given by its tableau alone, which is all that
/// ``ExplicitRKAlgorithm``'s solve reads of the method.
@usableFromInline
struct _TableauRK: ExplicitRKAlgorithm {
    @usableFromInline let tableau: ButcherTableau
    @inlinable init(_ tableau: ButcherTableau) { self.tableau = tableau }
}

extension ExplicitRKAlgorithm {
    @inlinable
    public func _solvePrecompiled(_ problem: ODEProblem<ErasedModelRHS<Double>>, options: SolveOptions)
        throws(DiffEqError) -> ODESolution<Double>
    {
        try _explicitRKSolve(tableau, problem, options)
    }

    @inlinable
    public func _solvePrecompiled(_ problem: ODEProblem<ErasedModelRHS<Dual<2, Double>>>, options: SolveOptions)
        throws(DiffEqError) -> ODESolution<Dual<2, Double>>
    {
        try _explicitRKSolve(tableau, problem, options)
    }

    @inlinable
    public func _solvePrecompiled(_ problem: ODEProblem<ErasedModelRHS<Dual<4, Double>>>, options: SolveOptions)
        throws(DiffEqError) -> ODESolution<Dual<4, Double>>
    {
        try _explicitRKSolve(tableau, problem, options)
    }

    @inlinable
    public func _solvePrecompiled(_ problem: ODEProblem<ErasedModelRHS<Dual<8, Double>>>, options: SolveOptions)
        throws(DiffEqError) -> ODESolution<Dual<8, Double>>
    {
        try _explicitRKSolve(tableau, problem, options)
    }

    @inlinable
    public func _solvePrecompiled(_ problem: ODEProblem<ErasedModelRHS<Dual<13, Double>>>, options: SolveOptions)
        throws(DiffEqError) -> ODESolution<Dual<13, Double>>
    {
        try _explicitRKSolve(tableau, problem, options)
    }
}

@usableFromInline
func _explicitRKSolve(_ tableau: ButcherTableau, _ problem: ODEProblem<ErasedModelRHS<Double>>, _ options: SolveOptions)
    throws(DiffEqError) -> ODESolution<Double>
{
    try _TableauRK(tableau).solve(problem, options: options)
}

@usableFromInline
func _explicitRKSolve(_ tableau: ButcherTableau, _ problem: ODEProblem<ErasedModelRHS<Dual<2, Double>>>, _ options: SolveOptions)
    throws(DiffEqError) -> ODESolution<Dual<2, Double>>
{
    try _TableauRK(tableau).solve(problem, options: options)
}

@usableFromInline
func _explicitRKSolve(_ tableau: ButcherTableau, _ problem: ODEProblem<ErasedModelRHS<Dual<4, Double>>>, _ options: SolveOptions)
    throws(DiffEqError) -> ODESolution<Dual<4, Double>>
{
    try _TableauRK(tableau).solve(problem, options: options)
}

@usableFromInline
func _explicitRKSolve(_ tableau: ButcherTableau, _ problem: ODEProblem<ErasedModelRHS<Dual<8, Double>>>, _ options: SolveOptions)
    throws(DiffEqError) -> ODESolution<Dual<8, Double>>
{
    try _TableauRK(tableau).solve(problem, options: options)
}

@usableFromInline
func _explicitRKSolve(_ tableau: ButcherTableau, _ problem: ODEProblem<ErasedModelRHS<Dual<13, Double>>>, _ options: SolveOptions)
    throws(DiffEqError) -> ODESolution<Dual<13, Double>>
{
    try _TableauRK(tableau).solve(problem, options: options)
}
