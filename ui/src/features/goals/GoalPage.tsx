import { useParams } from "react-router";
import { Card, PageHeader } from "../../components/Card";
import { GoalProgressCard } from "./GoalProgressCard";

export default function GoalPage() {
  const { goalId = "" } = useParams();
  return (
    <>
      <PageHeader title="Goal" />
      <Card className="p-4">
        <GoalProgressCard goalId={goalId} />
      </Card>
    </>
  );
}
